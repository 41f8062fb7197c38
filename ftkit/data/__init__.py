"""Data tools that are not loaders: cleaning, anonymisation, duplicate and leak finding (`clean`)."""

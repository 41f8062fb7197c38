"""Plumbing the lessons rely on but a learner need not read: model presets and their offline
fallbacks, the packaged GGUF model, the feature cache, torchvision's CPU fix, profiles and
devices, safe saving, results.json, the environment doctor and the `ftkit` command."""

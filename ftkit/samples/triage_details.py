"""Made-up details for the triage messages: who writes, for how long, negations, openers and closers,
typos, and the fake personal data that lesson 06 must find and anonymise (names, addresses, ID areas)."""

# (English relative, Chinese relative, sex, youngest age, oldest age)
RELATIVES = [
    ("son", "儿子", "m", 2, 17),
    ("daughter", "女儿", "f", 2, 17),
    ("father", "父亲", "m", 50, 92),
    ("mother", "母亲", "f", 48, 90),
    ("husband", "老公", "m", 25, 80),
    ("wife", "妻子", "f", 24, 80),
    ("grandfather", "爷爷", "m", 70, 97),
    ("grandmother", "奶奶", "f", 70, 97),
    ("brother", "弟弟", "m", 12, 60),
    ("sister", "姐姐", "f", 14, 65),
    ("neighbour", "邻居", "", 30, 90),
    ("flatmate", "室友", "", 19, 35),
]

DURATION = {  # (English sentence, Chinese sentence)
    "now": [
        ("It started twenty minutes ago.", "二十分钟前开始的。"),
        ("This began just now.", "刚刚开始的。"),
        ("It came on about an hour ago.", "大概一个小时前开始的。"),
        ("Happening right now!", "现在就是这样！"),
    ],
    "recent": [
        ("Since this morning.", "从今天早上开始。"),
        ("It got much worse in the last hour.", "最近一个小时突然加重了。"),
        ("Since last night.", "从昨晚开始的。"),
        ("It began while we were having dinner.", "吃晚饭的时候开始的。"),
    ],
    "days": [
        ("Since this morning.", "从今天早上开始。"),
        ("It's been two days.", "已经两天了。"),
        ("Since last night.", "从昨晚开始的。"),
        ("Since the weekend.", "周末开始的。"),
    ],
    "weeks": [
        ("For about three weeks now.", "大概三周了。"),
        ("On and off for a month.", "断断续续一个月了。"),
        ("For a couple of months.", "有两三个月了。"),
        ("For ages, really.", "其实很久了。"),
    ],
}
DURATION_FOR = {
    "urgent": ("now", "now", "recent"),
    "soon": ("days", "days", "weeks"),
    "routine": ("days", "weeks"),
}

NEGATIONS = [  # (English, Chinese, topic word that must not be in the complaint)
    ("No fever.", "不发烧。", "fever"),
    ("No chest pain.", "没有胸痛。", "chest"),
    ("Breathing is fine.", "呼吸正常。", "breath"),
    ("Not dizzy.", "不头晕。", "dizz"),
    ("No bleeding.", "没有出血。", "blood"),
    ("Eating and drinking normally.", "吃喝正常。", "drink"),
    ("No vomiting.", "没有呕吐。", "vomit"),
    ("Not confused, talking normally.", "意识清楚，说话正常。", "confus"),
    ("Hasn't fainted.", "没有晕倒过。", "faint"),
    ("No rash.", "没有皮疹。", "rash"),
    ("I don't think it's serious.", "我觉得不严重。", "~"),
    ("No trouble swallowing.", "吞咽没问题。", "swallow"),
]
CLOSERS = {
    "any": [
        ("Should I come in?", "需要来医院吗？"),
        ("What should I do?", "该怎么办？"),
        ("Is this serious?", "严重吗？"),
        ("Any advice?", "有什么建议吗？"),
        ("Thanks.", "谢谢。"),
        ("Please advise.", "请指导一下。"),
        ("", ""),
    ],
    "urgent": [
        ("Please help!!", "求求你们快帮忙！！"),
        ("What do we do?!", "我们该怎么办？！"),
        ("Please hurry.", "请快一点。"),
        ("Help!", "救命！"),
    ],
    "calm": [
        ("Can it wait until Monday?", "能等到周一再看吗？"),
        ("No rush.", "不着急。"),
        ("Happy to wait for a normal appointment.", "普通预约就行。"),
    ],
}
OPENERS = [
    ("", ""),
    ("Hi, ", "你好，"),
    ("Hello. ", "您好。"),
    ("Sorry to bother you, ", "不好意思打扰了，"),
    ("Quick question: ", "问一下，"),
    ("Good morning, ", "早上好，"),
]

TYPOS_EN = {
    "breathe": "breath",
    "stomach": "stomache",
    "diarrhoea": "diarrea",
    "dizzy": "dizy",
    "swollen": "swolen",
    "temperature": "temprature",
    "vomiting": "vomitting",
    "tablets": "tabelts",
    "painful": "painfull",
    "really": "realy",
    "blood": "blod",
    "started": "startd",
    "headache": "headach",
    "since": "sicne",
    "yesterday": "yesturday",
    "bleeding": "bleding",
    "pressure": "presure",
    "because": "becuase",
}
TYPOS_ZH = {
    "已经": "以经",
    "厉害": "利害",
    "突然": "突燃",
    "现在": "现再",
    "头晕": "头运",
    "恶心": "恶新",
    "咳嗽": "咳漱",
    "喘不上气": "穿不上气",
    "嗓子": "桑子",
    "发烧": "发绕",
    "肚子": "肚仔",
    "喉咙": "喉笼",
}

NAMES_EN = [
    "Emma Clarke",
    "Oliver Bennett",
    "Amelia Hughes",
    "Harry Patel",
    "Sophie Turner",
    "Jack Robinson",
    "Grace O'Neill",
    "Mohammed Khan",
    "Lily Evans",
    "George Walsh",
    "Chloe Murphy",
    "Daniel Osei",
]
NAMES_ZH = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄海", "周杰", "吴婷", "徐明", "孙丽"]
STREETS_EN = ["Elm Road", "Station Street", "Mill Lane", "Park Avenue", "Church Close", "Victoria Drive"]
TOWNS_EN = ["Leeds", "Bristol", "Norwich", "York", "Cardiff", "Derby"]
ADDRESSES_ZH = [
    "北京市朝阳区建国路88号",
    "上海市浦东新区世纪大道100号",
    "广州市天河区体育西路12号",
    "成都市武侯区人民南路45号",
    "杭州市西湖区文三路7号",
    "南京市鼓楼区中山路23号",
]
ID_AREAS = ["110105", "310115", "440106", "510107", "330106", "320106"]  # area codes of the cities above

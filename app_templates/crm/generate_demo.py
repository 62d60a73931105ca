#!/usr/bin/env python3
"""Write the CRM template's demo data (demo_data.json) — deterministically.

Stand-alone (standard library only): run it from anywhere,

    python app_templates/crm/generate_demo.py [--anchor 2026-11-23] [--out PATH]

The same anchor always gives the same file (random.Random(2026)). Date and
datetime field values are absolute, computed back from the anchor date; record
timestamps are given as ``created_days_ago`` for the loader to place relative to
the day it runs. References between records are written ``"@<entity>:<n>"`` and
records are listed so that a referenced record always comes before the records
that point at it. A follow-up's ``created_at`` is its date (the loader moves it like
the dates). Formula and auto-number fields are left out (computed).

Opportunities carry a ``stage_history`` (their past moves, ``days_ago`` oldest
first, ending in their stage), so time in stage and the path bar have data; a few
deals entered Proposal in the last two days, so the 48-hour rule has reminders
pending. ``notifications`` are the demo's own notes (a welcome for everyone); the
loader also delivers the reminders of the last ``replay_days`` as notifications.

Every opportunity satisfies the gates of the stage it sits in (see
workflows/opportunity_pipeline.json): needs_confirmed and later have a decision
maker, a confirmed budget and a needs summary; proposal and later a proposal date
and link; quotation and later an amount; negotiation and won at least three
follow-ups; won a contract signing date; lost a lost reason.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2026
DOMAIN = "demo.formloom"
PASSWORD = "demo1234"

COUNTS = {"customer": 60, "contact": 150, "opportunity": 250, "follow_up": 600,
          "contract": 40, "payment": 80, "quotation": 8}
# Opportunities per stage: most early, about 15% won and 15% lost.
STAGE_COUNTS = [("initial_contact", 55), ("needs_confirmed", 45), ("proposal", 32),
                ("quotation", 24), ("negotiation", 20), ("won", 37), ("lost", 37)]
OPEN_STAGES = ["initial_contact", "needs_confirmed", "proposal", "quotation", "negotiation"]
POOL_CUSTOMERS = 8
STANDALONE_CONTRACTS = COUNTS["contract"] - dict(STAGE_COUNTS)["won"]

# --------------------------------------------------------------------- users

USERS = [
    {"email": f"admin@{DOMAIN}", "name": "Admin 管理员", "roles": ["admin"], "manager": None, "language": "en"},
    {"email": f"gm@{DOMAIN}", "name": "赵强 Zhao Qiang (GM)", "roles": ["gm"], "manager": None, "language": "zh"},
    {"email": f"finance@{DOMAIN}", "name": "Finance 财务", "roles": ["finance"], "manager": f"gm@{DOMAIN}",
     "language": "en"},
    {"email": f"manager@{DOMAIN}", "name": "王芳 Wang Fang", "roles": ["manager"], "manager": f"gm@{DOMAIN}",
     "language": "zh"},
    {"email": f"li.wei@{DOMAIN}", "name": "李伟", "roles": ["sales"], "manager": f"manager@{DOMAIN}", "language": "zh"},
    {"email": f"zhang.min@{DOMAIN}", "name": "张敏", "roles": ["sales"], "manager": f"manager@{DOMAIN}", "language": "zh"},
    {"email": f"tom@{DOMAIN}", "name": "Tom Becker", "roles": ["sales"], "manager": f"manager@{DOMAIN}", "language": "en"},
    {"email": f"emma@{DOMAIN}", "name": "Emma Clarke", "roles": ["senior_sales"], "manager": f"manager@{DOMAIN}", "language": "en"},
    {"email": f"chen.jie@{DOMAIN}", "name": "陈杰", "roles": ["senior_sales"], "manager": f"manager@{DOMAIN}", "language": "zh"},
]
MANAGER = f"manager@{DOMAIN}"
SALES_ZH = [f"li.wei@{DOMAIN}", f"li.wei@{DOMAIN}", f"zhang.min@{DOMAIN}", f"chen.jie@{DOMAIN}"]
SALES_EN = [f"emma@{DOMAIN}", f"tom@{DOMAIN}"]

# ----------------------------------------------------------------- vocabulary

# city, region, area code, districts
CITIES = [
    ("上海", "east", "021", ["浦东新区", "闵行区", "嘉定区", "松江区"]),
    ("杭州", "east", "0571", ["滨江区", "余杭区", "萧山区"]),
    ("苏州", "east", "0512", ["工业园区", "高新区", "昆山市"]),
    ("南京", "east", "025", ["江宁区", "雨花台区", "浦口区"]),
    ("宁波", "east", "0574", ["鄞州区", "北仑区"]),
    ("无锡", "east", "0510", ["新吴区", "滨湖区"]),
    ("合肥", "east", "0551", ["蜀山区", "包河区"]),
    ("青岛", "east", "0532", ["黄岛区", "城阳区"]),
    ("厦门", "east", "0592", ["集美区", "湖里区"]),
    ("北京", "north", "010", ["海淀区", "朝阳区", "亦庄经开区"]),
    ("天津", "north", "022", ["滨海新区", "西青区"]),
    ("石家庄", "north", "0311", ["长安区", "高新区"]),
    ("广州", "south", "020", ["天河区", "黄埔区", "番禺区"]),
    ("深圳", "south", "0755", ["南山区", "宝安区", "龙岗区"]),
    ("东莞", "south", "0769", ["松山湖", "长安镇"]),
    ("佛山", "south", "0757", ["顺德区", "南海区"]),
    ("武汉", "central", "027", ["东湖高新区", "江夏区"]),
    ("长沙", "central", "0731", ["岳麓区", "雨花区"]),
    ("郑州", "central", "0371", ["金水区", "经开区"]),
    ("成都", "west", "028", ["高新区", "双流区"]),
    ("重庆", "west", "023", ["两江新区", "渝北区"]),
    ("西安", "west", "029", ["雁塔区", "高新区"]),
    ("沈阳", "northeast", "024", ["浑南区", "铁西区"]),
    ("大连", "northeast", "0411", ["甘井子区", "金州区"]),
    ("长春", "northeast", "0431", ["朝阳区", "汽开区"]),
]
ROADS = ["科技路", "创业大道", "工业园路", "高新大道", "人民路", "建设路", "中山路", "滨江大道",
         "星湖街", "金桥路", "长江路", "泰山路", "锦绣大道", "望江路"]

BRANDS = [("恒盛", "hengsheng"), ("华瑞", "huarui"), ("鼎信", "dingxin"), ("嘉禾", "jiahe"),
          ("中科", "zhongke"), ("远航", "yuanhang"), ("博远", "boyuan"), ("凯达", "kaida"),
          ("天宇", "tianyu"), ("新锐", "xinrui"), ("金桥", "jinqiao"), ("瑞丰", "ruifeng"),
          ("宏图", "hongtu"), ("汇通", "huitong"), ("正泰", "zhengtai"), ("晨光", "chenguang"),
          ("海川", "haichuan"), ("联创", "lianchuang"), ("盛世", "shengshi"), ("启明", "qiming"),
          ("众诚", "zhongcheng"), ("永安", "yongan"), ("佳友", "jiayou"), ("华信", "huaxin"),
          ("东方", "dongfang"), ("明德", "mingde"), ("长城", "changcheng"), ("同创", "tongchuang"),
          ("德润", "derun"), ("安捷", "anjie"), ("卓越", "zhuoyue"), ("汇丰源", "huifengyuan"),
          ("泰和", "taihe"), ("万达通", "wandatong"), ("星河", "xinghe"), ("云帆", "yunfan"),
          ("奥普", "aopu"), ("百川", "baichuan"), ("坤泰", "kuntai"), ("锦程", "jincheng"),
          ("华辰", "huachen"), ("立信", "lixin"), ("睿智", "ruizhi"), ("中远", "zhongyuan"),
          ("科瑞", "kerui"), ("润邦", "runbang"), ("海纳", "haina"), ("青松", "qingsong"),
          ("国泰", "guotai"), ("鑫源", "xinyuan"), ("富通", "futong"), ("蓝海", "lanhai")]

INDUSTRY_WORDS = {
    "manufacturing": [("精密机械", "jx"), ("汽车零部件", "auto"), ("智能装备", "zb"), ("模具制造", "mold"), ("电子元件", "elec")],
    "retail": [("商贸", "trade"), ("连锁超市管理", "mart"), ("电子商务", "ec")],
    "it": [("信息技术", "it"), ("软件", "soft"), ("网络科技", "net")],
    "finance": [("融资租赁", "leasing"), ("投资管理", "invest"), ("保险经纪", "ins")],
    "healthcare": [("医疗器械", "med"), ("生物医药", "bio"), ("健康管理", "health")],
    "education": [("教育科技", "edu"), ("职业培训", "training")],
    "logistics": [("物流", "logistics"), ("供应链管理", "scm"), ("国际货运代理", "freight")],
    "energy": [("新能源", "energy"), ("光伏科技", "solar"), ("储能科技", "ess")],
    "other": [("建筑工程", "build"), ("食品", "food"), ("农业科技", "agri")],
}
INDUSTRY_WEIGHTS = {"manufacturing": 14, "retail": 5, "it": 5, "finance": 3, "healthcare": 4,
                    "education": 3, "logistics": 6, "energy": 5, "other": 3}

# name, industry, region, phone, address, website
EN_COMPANIES = [
    ("Northwind Trading Ltd.", "retail", "overseas", "+44 20 7946 0321", "12 Harbour Road, London E14 5AB, United Kingdom", "https://www.northwind-trading.co.uk"),
    ("Harbor Point Logistics GmbH", "logistics", "overseas", "+49 40 3861 2290", "Am Sandtorkai 41, 20457 Hamburg, Germany", "https://www.harborpoint-logistics.de"),
    ("Silverline Precision Parts Inc.", "manufacturing", "overseas", "+1 (248) 555-0142", "2800 Industrial Drive, Troy, MI 48083, USA", "https://www.silverline-parts.com"),
    ("Evergreen Retail Group plc", "retail", "overseas", "+44 161 496 0733", "45 Deansgate, Manchester M3 2AY, United Kingdom", "https://www.evergreen-retail.co.uk"),
    ("Brightpath Learning Pte. Ltd.", "education", "overseas", "+65 6123 4587", "80 Robinson Road #10-01, Singapore 068898", "https://www.brightpath.sg"),
    ("Meridian Health Systems LLC", "healthcare", "overseas", "+1 (617) 555-0199", "100 Summer Street, Boston, MA 02110, USA", "https://www.meridian-health.com"),
    ("Keystone Capital Partners Ltd.", "finance", "overseas", "+852 2890 1123", "18/F One Exchange Square, Central, Hong Kong", "https://www.keystone-capital.hk"),
    ("Solaris Power Solutions B.V.", "energy", "overseas", "+31 20 555 1874", "Zuidplein 126, 1077 XV Amsterdam, Netherlands", "https://www.solaris-power.nl"),
    ("Oakridge Software Labs Inc.", "it", "overseas", "+1 (415) 555-0108", "535 Mission Street, San Francisco, CA 94105, USA", "https://www.oakridge-labs.io"),
    ("Bluewater Freight Co., Ltd.", "logistics", "east", "+86 21 6888 4521", "上海市浦东新区外高桥保税区富特北路 211 号", "https://www.bluewater-freight.com"),
    ("Redstone Mining Equipment Pty Ltd", "manufacturing", "overseas", "+61 8 9555 0187", "14 Kings Park Road, West Perth WA 6005, Australia", "https://www.redstone-mining.com.au"),
    ("Lumen Data Analytics Ltd.", "it", "south", "+86 755 8666 2093", "深圳市南山区科技园科苑路 15 号", "https://www.lumen-analytics.com"),
]

SURNAMES = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
            ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu"), ("徐", "xu"), ("孙", "sun"),
            ("胡", "hu"), ("朱", "zhu"), ("高", "gao"), ("林", "lin"), ("何", "he"), ("郭", "guo"),
            ("马", "ma"), ("罗", "luo"), ("梁", "liang"), ("宋", "song"), ("郑", "zheng"), ("谢", "xie")]
GIVEN = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("秀英", "xiuying"), ("敏", "min"), ("静", "jing"),
         ("磊", "lei"), ("强", "qiang"), ("洋", "yang"), ("艳", "yan"), ("勇", "yong"), ("军", "jun"),
         ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("霞", "xia"), ("平", "ping"),
         ("刚", "gang"), ("建华", "jianhua"), ("志强", "zhiqiang"), ("海燕", "haiyan"), ("晓东", "xiaodong"),
         ("丽娟", "lijuan"), ("俊杰", "junjie"), ("文博", "wenbo"), ("雪梅", "xuemei"), ("国庆", "guoqing"),
         ("思远", "siyuan"), ("嘉怡", "jiayi")]
EN_FIRST = ["James", "Olivia", "Michael", "Sophie", "David", "Hannah", "Lukas", "Priya", "Daniel", "Grace",
            "Thomas", "Chloe", "Ryan", "Mia", "Benjamin", "Laura", "Samuel", "Aisha", "Oliver", "Nina"]
EN_LAST = ["Smith", "Müller", "Johnson", "Tan", "Williams", "Brown", "de Vries", "Lee", "Taylor", "Wilson",
           "Schmidt", "Martin", "Clarke", "Walker", "Young", "Patel", "Evans", "Hughes", "Lim", "Fischer"]

TITLES = {
    "zh": {"decision_maker": ["总经理", "副总经理", "董事长", "财务总监", "CIO 信息总监"],
           "influencer": ["IT 经理", "生产总监", "运营总监", "采购经理", "技术负责人"],
           "user": ["计划主管", "仓库主管", "质量工程师", "销售运营专员", "系统管理员"],
           "gatekeeper": ["总经理助理", "行政主管", "采购专员"]},
    "en": {"decision_maker": ["CEO", "Managing Director", "CFO", "COO", "CIO"],
           "influencer": ["IT Director", "Head of Operations", "Procurement Manager", "Plant Manager"],
           "user": ["Supply Chain Analyst", "Warehouse Supervisor", "Quality Engineer", "Systems Administrator"],
           "gatekeeper": ["Executive Assistant", "Office Manager", "Purchasing Officer"]},
}

# zh name, en name, unit price range (yuan), quantity range, is a main product
PRODUCTS = [
    ("MES 生产执行系统许可", "MES license", (180000, 320000), (1, 1), "MES"),
    ("WMS 仓储管理系统许可", "WMS license", (120000, 240000), (1, 1), "WMS"),
    ("CRM 用户许可（年）", "CRM user seat (annual)", (1200, 2400), (20, 200), "CRM"),
    ("数据中台平台许可", "Data platform license", (250000, 450000), (1, 1), "DATA"),
    ("工业物联网网关", "Industrial IoT gateway", (6800, 12800), (5, 60), "IOT"),
    ("智能质检相机套件", "Vision inspection kit", (38000, 68000), (1, 8), "QC"),
    ("ERP 接口集成服务", "ERP integration service", (40000, 90000), (1, 1), "ERP"),
    ("实施服务（人天）", "Implementation services (person-day)", (2500, 3800), (20, 120), None),
    ("年度运维服务", "Annual support & maintenance", (30000, 120000), (1, 1), None),
    ("用户培训（场）", "User training (session)", (8000, 15000), (1, 5), None),
]
MAIN = {p[4]: p for p in PRODUCTS if p[4]}
PROJECTS = {  # main product -> (zh project, en project)
    "MES": ("MES 生产执行系统", "MES rollout"),
    "WMS": ("智能仓储 WMS", "WMS rollout"),
    "CRM": ("CRM 销售管理平台", "CRM platform"),
    "DATA": ("数据中台建设", "data platform"),
    "IOT": ("设备联网改造", "IoT retrofit"),
    "QC": ("AI 视觉质检", "AI vision inspection"),
    "ERP": ("ERP 系统集成", "ERP integration"),
}
PROJECT_BY_INDUSTRY = {
    "manufacturing": ["MES", "MES", "IOT", "QC", "ERP", "DATA"],
    "retail": ["CRM", "WMS", "DATA"], "it": ["CRM", "DATA", "ERP"], "finance": ["CRM", "DATA"],
    "healthcare": ["WMS", "CRM", "QC"], "education": ["CRM", "DATA"],
    "logistics": ["WMS", "WMS", "IOT", "ERP"], "energy": ["IOT", "DATA", "MES"], "other": ["CRM", "ERP", "WMS"],
}
PHASES_ZH = ["", "", "", "二期", "升级", "扩容"]
PHASES_EN = ["", "", "", " phase 2", " upgrade", " expansion"]

CONCERNS_ZH = ["价格", "实施周期", "数据安全", "与现有 ERP 的集成", "售后响应速度", "私有化部署", "移动端体验", "成功案例"]
CONCERNS_EN = ["price", "implementation timeline", "data security", "integration with their ERP",
               "support response times", "on-premise deployment", "the mobile experience", "reference customers"]
# follow-up phases: (kinds, zh subjects, en subjects, zh next steps, en next steps)
FOLLOW_UP_PHASES = [
    (["call", "visit", "email"],
     ["初次电话沟通", "上门拜访了解现状", "发送公司及产品介绍", "电话了解业务痛点"],
     ["Intro call", "First site visit", "Sent company overview", "Discovery call"],
     ["约现场调研", "发送产品资料", "确认对接人"],
     ["Book a site survey", "Send product brochure", "Confirm the point of contact"]),
    (["visit", "demo", "meeting", "call"],
     ["现场调研业务流程", "产品线上演示", "需求梳理会议", "电话确认预算范围"],
     ["Process walkthrough on site", "Online product demo", "Requirements workshop", "Budget check call"],
     ["整理需求清单", "安排技术交流", "准备方案初稿"],
     ["Write up the requirements", "Arrange a technical session", "Draft the proposal"]),
    (["meeting", "email", "demo", "call"],
     ["方案评审会", "发送方案及报价", "针对疑问补充演示", "电话跟进方案反馈"],
     ["Proposal review meeting", "Sent proposal and quote", "Follow-up demo on open questions", "Call about proposal feedback"],
     ["根据反馈修改方案", "提交正式报价", "安排高层拜访"],
     ["Revise the proposal", "Send the formal quote", "Arrange an executive visit"]),
    (["meeting", "visit", "email", "call"],
     ["商务谈判", "高层拜访", "发送合同草稿", "电话沟通付款条款"],
     ["Commercial negotiation", "Executive visit", "Sent draft contract", "Call about payment terms"],
     ["法务审核合同", "确认付款节点", "约定签约时间"],
     ["Legal review of the contract", "Agree the payment schedule", "Set the signing date"]),
]
CUSTOMER_FOLLOW_UPS_ZH = [("call", "客户关系回访", "回访客户使用情况，整体满意，提出{c}方面的改进建议。"),
                          ("visit", "年度拜访", "拜访{p}，了解明年信息化规划，关注{c}。"),
                          ("email", "发送节日问候及新品资料", "发送新版本功能介绍，客户对{c}感兴趣。"),
                          ("meeting", "季度业务回顾", "与{p}进行季度回顾，讨论{c}相关问题。")]
CUSTOMER_FOLLOW_UPS_EN = [("call", "Account check-in", "Checked in on usage; happy overall, asked about {c}."),
                          ("visit", "Annual account visit", "Visited {p} to discuss next year's plans; main topic {c}."),
                          ("email", "Sent release notes", "Shared the new release notes; interested in {c}."),
                          ("meeting", "Quarterly business review", "Quarterly review with {p}; discussed {c}.")]
NEEDS_ZH = ["客户现有系统以 Excel 和纸质单据为主，{c}是主要顾虑；希望在明年一季度前上线{proj}，覆盖{n}个车间/部门。",
            "客户希望通过{proj}打通业务数据，提升效率；决策链清晰，关注{c}。预计用户约{n}人。",
            "客户因业务扩张需要{proj}，已有初步预算；重点关注{c}，要求提供同行业案例。覆盖{n}个站点。"]
NEEDS_EN = ["Runs on spreadsheets and paper today; wants {proj} live before Q1 across {n} sites. Main concern: {c}.",
            "Wants {proj} to connect their data and cut manual work; clear decision chain, focused on {c}. About {n} users.",
            "Growing fast and needs {proj}; budget in place. Cares most about {c} and asked for references. {n} locations."]
LOST_NOTES_ZH = {"price": "客户最终选择了报价更低的方案。", "competitor": "竞品在当地有成功案例，客户倾向对方。",
                 "budget": "客户年度预算被削减，项目搁置。", "timing": "客户内部组织调整，项目推迟到明年。",
                 "no_decision": "多次跟进后客户仍未决策，暂停跟进。", "other": "客户业务方向调整，需求取消。"}
LOST_NOTES_EN = {"price": "They chose a cheaper offer.", "competitor": "A competitor with local references won.",
                 "budget": "Their annual budget was cut; project on hold.", "timing": "Reorganisation pushed the project to next year.",
                 "no_decision": "No decision after repeated follow-ups; paused.", "other": "Their business direction changed; need withdrawn."}
SOURCES = ["expo", "referral", "website", "cold_call", "partner", "ad"]
SOURCE_WEIGHTS = [3, 4, 3, 2, 2, 1]
TAGS = ["key_account", "strategic", "new_customer", "renewal", "at_risk", "state_owned", "listed"]


# ------------------------------------------------------------------ helpers

def money(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class Gen:
    def __init__(self, anchor: dt.date):
        self.rng = random.Random(SEED)
        self.anchor = anchor
        self.records: dict[str, list[dict]] = {k: [] for k in COUNTS}
        self.used_emails: set[str] = set()
        self.approvals: list[dict] = []

    # dates -------------------------------------------------------------
    def day(self, days_ago: int) -> dt.date:
        return self.anchor - dt.timedelta(days=days_ago)

    def iso(self, days_ago: int) -> str:
        return self.day(days_ago).isoformat()

    def workday_ago(self, days_ago: int, lo: int, hi: int) -> int:
        """Move days_ago to a weekday, staying within [lo, hi] if it can."""
        for delta in (0, 1, -1, 2, -2):
            d = days_ago + delta
            if lo <= d <= hi and self.day(d).isoweekday() <= 5:
                return d
        return days_ago

    def stamp(self, days_ago: int) -> str:
        """A working-hours Asia/Shanghai time on that day, as UTC ISO with Z."""
        local = dt.datetime.combine(self.day(days_ago), dt.time(self.rng.randint(9, 17), self.rng.choice([0, 10, 15, 20, 30, 40, 45, 50])))
        return (local - dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:00Z")

    # records -----------------------------------------------------------
    def add(self, entity: str, owner: str, stage, created: int, data: dict) -> dict:
        n = len(self.records[entity]) + 1
        rec = {"ref": f"{entity}:{n}", "entity": entity, "owner": owner, "stage": stage,
               "created_days_ago": created, "data": data}
        self.records[entity].append(rec)
        return rec

    @staticmethod
    def at(rec: dict) -> str:
        return "@" + rec["ref"]

    # people ------------------------------------------------------------
    def mobile(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randint(0, 9)} {self.rng.randint(1000, 9999)} {self.rng.randint(1000, 9999)}"

    def unique_email(self, local: str, domain: str) -> str:
        email, i = f"{local}@{domain}", 2
        while email in self.used_emails:
            email, i = f"{local}{i}@{domain}", i + 1
        self.used_emails.add(email)
        return email

    # ----------------------------------------------------------- customers
    def customers(self):
        rng = self.rng
        brands = BRANDS[:]
        rng.shuffle(brands)
        industries = list(INDUSTRY_WEIGHTS)
        weights = [INDUSTRY_WEIGHTS[i] for i in industries]
        n_zh = COUNTS["customer"] - len(EN_COMPANIES)
        specs = []
        for i in range(n_zh):
            brand, brand_py = brands[i]
            industry = rng.choices(industries, weights)[0]
            word, word_py = rng.choice(INDUSTRY_WORDS[industry])
            city, region, area, districts = rng.choice(CITIES)
            suffix = rng.choices(["有限公司", "股份有限公司", "集团有限公司"], [6, 3, 1])[0]
            name = f"{city}{brand}{word}{suffix}"
            specs.append({
                "lang": "zh", "short": brand, "domain": f"{brand_py}-{word_py}.com.cn",
                "data": {"name": name, "industry": industry, "region": region,
                         "phone": f"{area}-{rng.randint(5000, 8999)}{rng.randint(1000, 9999)}",
                         "website": f"https://www.{brand_py}-{word_py}.com.cn",
                         "address": f"{city}市{rng.choice(districts)}{rng.choice(ROADS)}{rng.randint(1, 999)}号"}})
        for name, industry, region, phone, address, website in EN_COMPANIES:
            specs.append({"lang": "en", "short": name.split()[0], "domain": website.split("www.", 1)[1],
                          "data": {"name": name, "industry": industry, "region": region, "phone": phone,
                                   "website": website, "address": address}})
        rng.shuffle(specs)
        pool_idx = set(rng.sample(range(len(specs)), POOL_CUSTOMERS))
        for i, spec in enumerate(specs):
            data = spec["data"]
            data["size"] = rng.choices(["s1_50", "s51_200", "s201_1000", "s1000_plus"], [2, 4, 3, 2])[0]
            data["grade"] = rng.choices(["a", "b", "c"], [2, 5, 3])[0]
            tags = []
            if data["grade"] == "a":
                tags.append("key_account")
            tags += rng.sample([t for t in TAGS if t != "key_account"], rng.choice([0, 0, 1, 1, 2]))
            data["tags"] = [t for t in TAGS if t in tags]
            data["source"] = rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
            in_pool = i in pool_idx
            data["in_pool"] = in_pool
            if i % 3 == 1:          # some profiles are incomplete (profile completeness varies); no rng: the rest stays
                data["website"] = None
            if i % 5 == 2:
                data["address"] = None
            if in_pool:
                owner = MANAGER
            else:
                owner = rng.choice(SALES_EN if spec["lang"] == "en" else SALES_ZH)
            # created_days_ago is fixed later, once its opportunities are known
            rec = self.add("customer", owner, "pool" if in_pool else "owned", 0,
                           {k: data[k] for k in ("name", "industry", "size", "region", "grade", "tags",
                                                 "source", "phone", "website", "address", "in_pool")
                            if data[k] is not None})
            rec["_lang"], rec["_short"], rec["_domain"], rec["_contacts"] = spec["lang"], spec["short"], spec["domain"], []
            rec["_pool"] = in_pool

    # ------------------------------------------------------------ contacts
    def contacts(self):
        rng = self.rng
        customers = self.records["customer"]
        per = [2] * len(customers)
        for i in rng.sample(range(len(customers)), COUNTS["contact"] - 2 * len(customers)):
            per[i] += 1
        for cust, k in zip(customers, per):
            lang = cust["_lang"]
            roles = ["decision_maker", rng.choice(["influencer", "user"])]
            roles += [rng.choice(["influencer", "user", "gatekeeper", "decision_maker"]) for _ in range(k - 2)]
            primary = rng.randrange(2)
            for j, role in enumerate(roles):
                if lang == "zh":
                    (sn, sn_py), (gn, gn_py) = rng.choice(SURNAMES), rng.choice(GIVEN)
                    name = sn + gn
                    email = self.unique_email(f"{gn_py}.{sn_py}", cust["_domain"])
                    wechat = f"{sn_py}{gn_py}_{rng.randint(100, 9999)}" if rng.random() < 0.8 else None
                    phone = self.mobile()
                else:
                    first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
                    name = f"{first} {last}"
                    local = f"{first}.{last}".lower().replace(" ", "").replace("ü", "ue")
                    email = self.unique_email(local, cust["_domain"])
                    wechat = None
                    phone = cust["data"]["phone"][:-2] + f"{rng.randint(10, 99)}"
                data = {"customer": self.at(cust), "name": name, "job_title": rng.choice(TITLES[lang][role]),
                        "decision_role": role, "phone": phone, "email": email}
                if wechat:
                    data["wechat"] = wechat
                data["is_primary"] = j == primary
                if role == "decision_maker" and rng.random() < 0.3:
                    data["notes"] = ("重视投资回报，汇报材料需简明。" if lang == "zh"
                                     else "Cares about ROI; keep briefings short.")
                rec = self.add("contact", cust["owner"], None, 0, data)
                cust["_contacts"].append(rec)

    # ------------------------------------------------------- opportunities
    def lines(self, main: str, lang: str) -> list[dict]:
        """1-5 line items: the main product, then services."""
        rng = self.rng
        chosen = [MAIN[main]]
        extras = [p for p in PRODUCTS if p[4] is None or p[4] == "IOT" and main in ("MES", "DATA")]
        chosen += rng.sample(extras, rng.randint(0, min(4, len(extras))))
        out = []
        for zh, en, (plo, phi), (qlo, qhi), _ in chosen:
            price = Decimal(rng.randrange(plo // 100, phi // 100 + 1) * 100)
            qty = rng.randint(qlo, qhi)
            disc = rng.choice([0, 0, 0, 5, 10, 15])
            amount = price * qty * (Decimal(100 - disc) / 100)
            row = {"product": zh if lang == "zh" else en, "quantity": qty, "unit_price": money(price)}
            if disc:
                row["discount"] = disc
            row["line_amount"] = money(amount)
            out.append(row)
        return out

    def opportunities(self):
        rng = self.rng
        owned = [c for c in self.records["customer"] if not c["_pool"]]
        pooled = [c for c in self.records["customer"] if c["_pool"]]
        # Bigger customers get more deals.
        weight = {"a": 4, "b": 2, "c": 1}
        stages = [s for s, n in STAGE_COUNTS for _ in range(n)]
        rng.shuffle(stages)
        for stage in stages:
            if stage == "lost" and rng.random() < 0.25:
                cust = rng.choice(pooled)
            else:
                cust = rng.choices(owned, [weight[c["data"]["grade"]] for c in owned])[0]
            self.opportunity(cust, stage)

    def opportunity(self, cust: dict, stage: str):
        rng = self.rng
        lang = cust["_lang"]
        industry = cust["data"]["industry"]
        main = rng.choice(PROJECT_BY_INDUSTRY[industry])
        proj_zh, proj_en = PROJECTS[main]
        k = rng.randrange(len(PHASES_ZH))
        name = (f"{cust['_short']}{proj_zh}{PHASES_ZH[k]}项目" if lang == "zh"
                else f"{cust['_short']} – {proj_en}{PHASES_EN[k]}")
        lines = self.lines(main, lang)
        amount = sum(Decimal(r["line_amount"]) for r in lines)

        # How far the deal got: lost deals died somewhere along the pipeline.
        if stage == "lost":
            reached = rng.choices(OPEN_STAGES, [3, 3, 2, 2, 1])[0]
        else:
            reached = stage
        level = (OPEN_STAGES + ["won"]).index(reached)

        # created_days_ago, and the day the deal closed (won or lost; 0 = still open)
        if stage in ("won", "lost"):
            # pool customers: old deals only, nothing in the last month
            closed = rng.randint(35 if cust["_pool"] else 1, 300)
            created = closed + rng.randint(20 + 6 * level, 60 + 20 * level)
        else:
            closed = 0
            created = rng.randint(*{"initial_contact": (1, 45), "needs_confirmed": (10, 70), "proposal": (20, 100),
                                    "quotation": (30, 120), "negotiation": (40, 150)}[reached])

        base = [35, 60, 68, 74, 80, 82][level]
        if stage == "lost":
            base -= 12
        spread = 30 if level == 0 else 18

        def bant():
            return max(0, min(100, int(rng.gauss(base, spread / 2))))

        need, budget_fit, authority, timing = bant(), bant(), bant(), bant()
        score = need * 0.3 + budget_fit * 0.3 + authority * 0.2 + timing * 0.2

        contacts = cust["_contacts"]
        dms = [c for c in contacts if c["data"]["decision_role"] == "decision_maker"] or contacts
        data = {"name": name[:120], "customer": self.at(cust)}
        if level >= 1 or rng.random() < 0.4:
            dm = rng.choice(dms)
            data["decision_maker"] = self.at(dm)
            keys = [dm] + rng.sample([c for c in contacts if c is not dm], rng.randint(0, min(2, len(contacts) - 1)))
            data["contacts"] = [self.at(c) for c in keys]
        if level >= 2 or rng.random() < 0.7:
            # early amounts are estimates, rounded
            data["amount"] = money(amount if level >= 3 else (amount / 1000).quantize(Decimal("1")) * 1000)
        data["source"] = cust["data"]["source"] if rng.random() < 0.6 else rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
        if stage in ("won", "lost"):
            data["expected_close"] = self.iso(max(0, closed + rng.randint(-10, 20)))
        else:
            data["expected_close"] = self.iso(-rng.randint(-12, 120) if level < 4 else -rng.randint(-5, 40))
        data.update({"need": need, "budget_fit": budget_fit, "authority": authority, "timing": timing})
        data["competitor_count"] = rng.choices([0, 1, 2, 3, 4, 5], [2, 4, 4, 2, 1, 1])[0]
        data["risk"] = rng.choices(["low", "medium", "high"],
                                   [1, 2, 2] if stage == "lost" else [3, 3, 1])[0]
        concern_i = rng.randrange(len(CONCERNS_ZH))
        if level >= 1:
            data["budget_confirmed"] = True
            tmpl = rng.randrange(len(NEEDS_ZH))
            n = rng.randint(2, 12) if tmpl != 1 else rng.randint(20, 300)
            data["needs_summary"] = (NEEDS_ZH[tmpl].format(c=CONCERNS_ZH[concern_i], proj=proj_zh, n=n) if lang == "zh"
                                     else NEEDS_EN[tmpl].format(c=CONCERNS_EN[concern_i], proj=proj_en, n=n))
        else:
            data["budget_confirmed"] = rng.random() < 0.15
        opp_n = len(self.records["opportunity"]) + 1
        if level >= 2:
            lo, hi = closed + 1, created - 5
            data["proposal_date"] = self.iso(rng.randint(lo, max(lo, hi)))
            data["proposal_link"] = f"https://files.{DOMAIN}/proposals/OPP-{opp_n:04d}.pdf"
        if stage == "won":
            data["contract_signed_on"] = self.iso(closed)
        if stage == "lost":
            reason = rng.choices(list(LOST_NOTES_ZH), [4, 4, 2, 2, 2, 1])[0]
            data["lost_reason"] = reason
            if rng.random() < 0.7:
                data["lost_note"] = LOST_NOTES_ZH[reason] if lang == "zh" else LOST_NOTES_EN[reason]
        data["in_pool"] = bool(stage == "initial_contact" and score < 60 and rng.random() < 0.5)

        owner = cust["owner"] if not cust["_pool"] else rng.choice(SALES_EN if lang == "en" else SALES_ZH)
        if stage not in ("won", "lost") and score >= 60 and rng.random() < 0.2:
            owner = rng.choice([f"emma@{DOMAIN}", f"chen.jie@{DOMAIN}"])  # routed to senior sales
        rec = self.add("opportunity", owner, stage, created, data)
        rec.update({"_cust": cust, "_lines": lines, "_level": level, "_closed": closed, "_lang": lang,
                    "_concern": concern_i, "_main": main})

    # ----------------------------------------------------------- follow-ups
    def follow_ups(self):
        rng = self.rng
        opps = self.records["opportunity"]
        counts = []
        for o in opps:
            level, stage = o["_level"], o["stage"]
            minimum = 3 if level >= 4 else 0
            want = {0: rng.randint(0, 2), 1: rng.randint(1, 3), 2: rng.randint(1, 4),
                    3: rng.randint(2, 4), 4: rng.randint(3, 6), 5: rng.randint(3, 6)}[level]
            if stage == "lost":
                want = max(minimum, want - 1)
            counts.append([max(minimum, want), minimum])
        budget = COUNTS["follow_up"] - 110  # leave room for account follow-ups
        while sum(c for c, _ in counts) > budget:
            i = rng.randrange(len(counts))
            if counts[i][0] > counts[i][1]:
                counts[i][0] -= 1
        for o, (k, _) in zip(opps, counts):
            self.opp_follow_ups(o, k)
        # Account follow-ups (no opportunity): keep owned customers touched within
        # 30 days (a few close to the limit, so the pool rule fires soon in a demo),
        # pool customers untouched for longer.
        customers = self.records["customer"]
        for cust in customers:
            last = self.last_touch(cust)
            if cust["_pool"]:
                continue
            if last is None or last > 28:
                self.account_follow_up(cust, rng.randint(1, 27) if rng.random() < 0.85 else rng.randint(25, 29))
        while len(self.records["follow_up"]) < COUNTS["follow_up"]:
            cust = rng.choice(customers)
            if cust["_pool"]:
                self.account_follow_up(cust, rng.randint(35, 200))
            else:
                self.account_follow_up(cust, rng.randint(1, 200))

    def last_touch(self, cust: dict):
        days = [f["created_days_ago"] for f in self.records["follow_up"] if f["data"]["customer"] == self.at(cust)]
        return min(days) if days else None

    def opp_follow_ups(self, o: dict, k: int):
        rng = self.rng
        if k == 0:
            return
        start, end = o["created_days_ago"], o["_closed"]
        lo = max(end, 1)
        span = max(start - lo, 0)
        days = sorted({lo + rng.randint(0, span) for _ in range(k * 3)}, reverse=True)
        while len(days) < k:
            days.append(days[-1] if days else lo)
        days = sorted(rng.sample(days, k), reverse=True)
        level = o["_level"]
        lang = o["_lang"]
        contacts = o["_cust"]["_contacts"]
        for i, d in enumerate(days):
            d = self.workday_ago(d, lo, max(start, lo))
            phase = min(3, min(level, 3) * i // max(1, k - 1)) if k > 1 else 0
            kinds, sub_zh, sub_en, nxt_zh, nxt_en = FOLLOW_UP_PHASES[phase]
            s = rng.randrange(len(sub_zh))
            kind = kinds[s % len(kinds)]
            person = rng.choice(contacts)["data"]
            concern = rng.randrange(len(CONCERNS_ZH))
            if lang == "zh":
                subject = sub_zh[s]
                summary = (f"与{person['name']}（{person['job_title']}）沟通{PROJECTS[o['_main']][0]}，"
                           f"客户重点关注{CONCERNS_ZH[concern]}。"
                           + rng.choice(["整体态度积极。", "需内部再讨论。", "对方案基本认可。", "希望尽快推进。"]))
                next_step = rng.choice(nxt_zh)
            else:
                subject = sub_en[s]
                summary = (f"Spoke with {person['name']} ({person['job_title']}) about the {PROJECTS[o['_main']][1]}; "
                           f"their main concern is {CONCERNS_EN[concern]}. "
                           + rng.choice(["Positive overall.", "They need to discuss internally.",
                                         "Broadly happy with the proposal.", "Keen to move quickly."]))
                next_step = rng.choice(nxt_en)
            data = {"subject": subject, "customer": self.at(o["_cust"]), "opportunity": self.at(o), "kind": kind,
                    "date": self.stamp(d), "summary": summary}
            if not (o["stage"] in ("won", "lost") and i == k - 1):
                data["next_step"] = next_step
                data["next_date"] = self.iso(d - rng.randint(2, 10))
            self.add("follow_up", o["owner"], None, d, data)

    def account_follow_up(self, cust: dict, d: int):
        rng = self.rng
        d = self.workday_ago(d, 1, 10_000)
        person = rng.choice(cust["_contacts"])["data"]
        concern = rng.randrange(len(CONCERNS_ZH))
        if cust["_lang"] == "zh":
            kind, subject, text = rng.choice(CUSTOMER_FOLLOW_UPS_ZH)
            summary = text.format(p=person["name"], c=CONCERNS_ZH[concern])
        else:
            kind, subject, text = rng.choice(CUSTOMER_FOLLOW_UPS_EN)
            summary = text.format(p=person["name"], c=CONCERNS_EN[concern])
        data = {"subject": subject, "customer": self.at(cust), "kind": kind, "date": self.stamp(d), "summary": summary}
        owner = cust["owner"] if not cust["_pool"] else rng.choice(SALES_EN if cust["_lang"] == "en" else SALES_ZH)
        self.add("follow_up", owner, None, d, data)

    # ------------------------------------------------- contracts, payments
    def sign_off_requests(self):
        """Two draft contracts waiting on sign-off (README tour, step 13): the largest, above
        500,000, already approved by the sales manager and now with the general manager; the
        smallest with the sales manager. Finance is told when they are decided. They get their
        dates, which moving to Active requires."""
        drafts = sorted((c for c in self.records["contract"] if c["stage"] == "draft"),
                        key=lambda c: Decimal(c["data"]["amount"]))
        big, small = drafts[-1], drafts[0]
        assert Decimal(big["data"]["amount"]) > 500000 >= Decimal(small["data"]["amount"])
        for contract in (big, small):
            start, end = contract["_term"]
            contract["data"].update(start_date=self.iso(start), end_date=self.iso(end))
        self.approvals += [
            {"record": big["ref"], "to": "active", "by": big["owner"], "hours_ago": 26,
             "approved": [{"by": f"manager@{DOMAIN}", "hours_ago": 5,
                           "comment": "价格已核对，请总经理审批。"}]},
            {"record": small["ref"], "to": "active", "by": small["owner"], "hours_ago": 3},
        ]

    def contracts(self):
        rng = self.rng
        won = [o for o in self.records["opportunity"] if o["stage"] == "won"]
        # the most recent wins still have a draft contract (what won_creates_contract makes)
        drafts = {id(o) for o in sorted(won, key=lambda o: o["_closed"])[:3]}
        for o in won:
            signed = o["_closed"]
            lang = o["_lang"]
            term = rng.choices([365, 730, 182], [6, 2, 2])[0]
            start = max(0, signed - rng.randint(0, 14)) if signed > 0 else 0
            end = start - term + 1  # days_ago, negative = in the future
            data = {"name": o["data"]["name"], "customer": o["data"]["customer"], "opportunity": self.at(o),
                    "signed_on": self.iso(signed), "amount": o["data"]["amount"]}
            if id(o) in drafts:
                stage = "draft"
            else:
                data["start_date"] = self.iso(start)
                data["end_date"] = self.iso(end)
                stage = "expired" if end > 0 else "active"
            data["status"] = stage
            data["lines"] = o["_lines"]
            self.add("contract", o["owner"], stage, signed, data).update(_lang=lang, _cust=o["_cust"],
                                                                         _term=(start, end))
        self.sign_off_requests()
        # Renewal-era service contracts without an opportunity: one terminated,
        # the others ending within the next few weeks (renewal reminders).
        owned = [c for c in self.records["customer"] if not c["_pool"]]
        for i in range(STANDALONE_CONTRACTS):
            cust = rng.choice(owned)
            lang = cust["_lang"]
            zh, en, (plo, phi), _, _ = PRODUCTS[8]
            price = Decimal(rng.randrange(plo // 100, phi // 100 + 1) * 100)
            lines = [{"product": zh if lang == "zh" else en, "quantity": 1, "unit_price": money(price), "line_amount": money(price)}]
            end = -rng.randint(5, 35)
            start = end + 364
            signed = start + rng.randint(3, 20)
            name = f"{cust['_short']}年度运维服务合同" if lang == "zh" else f"{cust['_short']} – annual support"
            data = {"name": name, "customer": self.at(cust), "signed_on": self.iso(signed),
                    "start_date": self.iso(start), "end_date": self.iso(end), "amount": money(price)}
            stage = "active"
            if i == 0:
                stage = "terminated"
                data["notes"] = "客户被收购，双方协商提前终止。" if lang == "zh" else "Customer was acquired; ended early by mutual agreement."
            data["status"] = stage
            data["lines"] = lines
            self.add("contract", cust["owner"], stage, signed, data).update(_lang=lang, _cust=cust)

    def payments(self):
        rng = self.rng
        billable = [c for c in self.records["contract"] if c["stage"] != "draft"]
        plans = {1: [100], 2: [50, 50], 3: [30, 60, 10], 4: [30, 30, 30, 10]}
        counts = [1 if c["stage"] == "terminated" else rng.choice([2, 2, 3]) for c in billable]
        while sum(counts) != COUNTS["payment"]:
            i = rng.randrange(len(counts))
            if billable[i]["stage"] == "terminated":
                continue
            if sum(counts) > COUNTS["payment"] and counts[i] > 1:
                counts[i] -= 1
            elif sum(counts) < COUNTS["payment"] and counts[i] < 4:
                counts[i] += 1
        soon = 0
        for c, k in zip(billable, counts):
            total = Decimal(c["data"]["amount"])
            signed = c["created_days_ago"]
            end = int((self.anchor - dt.date.fromisoformat(c["data"]["end_date"])).days)
            paid = Decimal(0)
            for j, pct in enumerate(plans[k]):
                amt = (total - paid) if j == k - 1 else (total * pct / 100).quantize(Decimal("0.01"))
                paid += amt
                if j == 0:
                    due = signed - rng.randint(7, 15)
                else:
                    due = signed - int((signed - end) * j / k) - rng.randint(0, 10)
                due = self.workday_ago(due, -10_000, 10_000)
                data = {"contract": self.at(c),
                        "name": f"第{j + 1}期" if c["_lang"] == "zh" else f"Installment {j + 1}",
                        "amount": money(amt), "due_date": self.iso(due)}
                if due > 0:
                    status = "received" if rng.random() < 0.85 else "overdue"
                else:
                    status = "planned"
                    if -3 <= due <= 0:
                        soon += 1
                if status == "received":
                    got = max(0, due + rng.randint(-5, 3)) if due > 5 else due
                    data["received_on"] = self.iso(max(got, 0))
                data["status"] = status
                self.add("payment", c["owner"], "received" if status == "received" else "open", signed, data)
        if not soon:  # make sure a "due in 3 days" reminder is visible in the demo
            for p in self.records["payment"]:
                if p["data"]["status"] == "planned":
                    p["data"]["due_date"] = self.iso(-3)
                    break

    # ---------------------------------------------------------- quotations
    # (stage, discount range, requested stage): the first two asked for a discount above 20%
    # and wait for the sales manager's approval; the ones already sent stayed at 20% or less.
    QUOTE_PLAN = [("draft", (22, 30), "sent"), ("draft", (25, 35), "sent"), ("draft", (5, 15), None),
                  ("sent", (0, 10), None), ("sent", (10, 20), None), ("sent", (5, 15), None),
                  ("accepted", (5, 15), None), ("rejected", (10, 20), None)]

    def quotations(self):
        """Quotations for deals in the quotation and negotiation stages, drawn with an RNG of
        their own so the rest of the data set does not change when this part does."""
        rng = random.Random(SEED + 2)
        deals = [o for o in self.records["opportunity"]
                 if o["stage"] in ("quotation", "negotiation") and o["owner"]][:COUNTS["quotation"]]
        for o, (stage, (lo, hi), request) in zip(deals, self.QUOTE_PLAN):
            lang = o["_lang"]
            lines = [{k: row[k] for k in ("product", "quantity", "unit_price")} for row in o["_lines"]]
            price = sum(Decimal(row["unit_price"]) * row["quantity"] for row in lines)
            created = rng.randint(1, max(1, min(12, int(o["created_days_ago"]) - 1)))
            name = f"{o['data']['name']} 报价" if lang == "zh" else f"{o['data']['name']} – quotation"
            data = {"name": name, "customer": o["data"]["customer"], "opportunity": self.at(o),
                    "list_price": money(price), "discount": rng.randint(lo, hi),
                    "valid_until": self.iso(created - 30), "lines": lines}
            rec = self.add("quotation", o["owner"], stage, created, data)
            if request:            # its rep asked to send it; the discount gate waits for the manager
                self.approvals.append({"record": rec["ref"], "to": request, "by": o["owner"],
                                       "hours_ago": rng.randint(2, 30)})

    # -------------------------------------------------------------- finish
    def finish(self):
        rng = self.rng
        # last_follow_up_at from the follow-ups
        last: dict[str, str] = {}
        for f in self.records["follow_up"]:
            for key in (f["data"]["customer"], f["data"].get("opportunity")):
                if key and f["data"]["date"] > last.get(key, ""):
                    last[key] = f["data"]["date"]
        for entity in ("customer", "opportunity"):
            for r in self.records[entity]:
                if self.at(r) in last:
                    r["data"]["last_follow_up_at"] = last[self.at(r)]
        # a customer exists before anything about it; contacts just after it
        oldest: dict[str, int] = {}
        for entity in ("opportunity", "follow_up", "contract"):
            for r in self.records[entity]:
                key = r["data"]["customer"]
                oldest[key] = max(oldest.get(key, 0), r["created_days_ago"])
        for cust in self.records["customer"]:
            cust["created_days_ago"] = oldest.get(self.at(cust), 0) + rng.randint(5, 60)
            for c in cust["_contacts"]:
                c["created_days_ago"] = cust["created_days_ago"] - rng.randint(0, 4)
        # field order inside data: as in app.json
        for entity in ("customer", "opportunity"):
            for r in self.records[entity]:
                d = r["data"]
                if "last_follow_up_at" in d:
                    d["in_pool"] = d.pop("in_pool")

    # ------------------------------------------------------ stage histories
    def stage_histories(self):
        """Past moves of every opportunity, drawn with an RNG of their own so the rest of
        the data set does not change when this part does."""
        rng = random.Random(SEED + 1)
        for f in self.records["follow_up"]:
            f["created_at"] = f["data"]["date"]          # logged when it happened
        for r in self.records["opportunity"]:
            r["created_days_ago"] = round(r["created_days_ago"] + rng.uniform(0.05, 0.7), 2)   # not all at one hour
            stage, level, created, closed = r["stage"], r["_level"], r["created_days_ago"], r["_closed"]
            if stage == "won":
                path = OPEN_STAGES + ["won"]
            elif stage == "lost":
                path = OPEN_STAGES[:level + 1] + ["lost"]
            else:
                path = OPEN_STAGES[:level + 1]
            if len(path) == 1:
                r["stage_history"] = [{"stage": path[0], "days_ago": created}]
                continue
            if closed:
                last = closed + round(rng.uniform(0.1, 0.9), 2)
            elif stage == "proposal":
                # some proposals went out in the last two days: the 48-hour rule is still waiting for them
                last = round(rng.uniform(0.2, 1.9), 2) if rng.random() < 0.2 else \
                    round(rng.uniform(2.1, max(2.2, min(22.0, created - 1))), 2)
                r["data"]["proposal_date"] = self.iso(int(last))
            else:
                last = round(rng.uniform(0.5, max(0.6, min(created - 1.0, 30.0))), 2)
            last = min(last, created - 0.05 * len(path))
            middle = sorted((round(rng.uniform(last, created), 2) for _ in path[1:-1]), reverse=True)
            times = [created] + middle + [last]
            r["stage_history"] = [{"stage": s, "days_ago": t} for s, t in zip(path, times)]

    def build(self) -> dict:
        self.customers()
        self.contacts()
        self.opportunities()
        self.follow_ups()
        self.contracts()
        self.payments()
        self.quotations()
        self.finish()
        self.stage_histories()
        users = [dict(u, password=PASSWORD) for u in USERS]
        users = [{k: u[k] for k in ("email", "name", "password", "roles", "manager", "language")} for u in users]
        records = [{k: v for k, v in r.items() if not k.startswith("_")}
                   for entity in COUNTS for r in self.records[entity]]
        for r in records:
            if r["entity"] == "customer" and r["stage"] == "pool":
                r["owner"] = None          # the pool (app.json "pool") is the customers nobody owns
        return {"anchor": self.anchor.isoformat(), "replay_days": 14, "unread_days": 3, "users": users,
                "notifications": NOTES, "records": records, "approvals": self.approvals}


NOTES = [
    {"to": "*", "days_ago": 0.01,
     "subject": {"en": "Welcome to the Formloom CRM demo", "zh": "欢迎使用 Formloom CRM 演示"},
     "body": {"en": "This team has been working for months: open a deal to see its stage history, drag cards on "
                    "the Opportunities board, and find here the reminders the rules sent over the last days.",
              "zh": "这个团队已经工作了几个月：打开商机查看阶段历史，在商机看板上拖动卡片，这里是规则最近几天发出的提醒。"}},
    {"to": f"admin@{DOMAIN}", "days_ago": 0.01,
     "subject": {"en": "Automation: run log and pending reminders", "zh": "自动化：执行日志与待发提醒"},
     "body": {"en": "Automation (top bar) lists every rule run, the reminders still to come, dead letters and the "
                    "mail outbox.",
              "zh": "顶栏的「自动化」列出每次规则执行、待发提醒、死信和邮件发件箱。"}},
]


def dump(doc: dict) -> str:
    """One record per line: small, diffable, still plain JSON."""
    head = json.dumps({k: doc[k] for k in ("anchor", "replay_days", "unread_days")}, ensure_ascii=False)[1:-1]
    users = ",\n    ".join(json.dumps(u, ensure_ascii=False) for u in doc["users"])
    notes = ",\n    ".join(json.dumps(n, ensure_ascii=False) for n in doc["notifications"])
    records = ",\n    ".join(json.dumps(r, ensure_ascii=False) for r in doc["records"])
    approvals = ",\n    ".join(json.dumps(a, ensure_ascii=False) for a in doc["approvals"])
    return (f'{{\n  {head},\n  "users": [\n    {users}\n  ],\n  "notifications": [\n    {notes}\n  ],\n'
            f'  "records": [\n    {records}\n  ],\n  "approvals": [\n    {approvals}\n  ]\n}}\n')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anchor", default="2026-11-23", type=dt.date.fromisoformat,
                        help="the 'today' that date values are computed from (default 2026-11-23)")
    parser.add_argument("--out", default=HERE / "demo_data.json", type=Path, help="output file")
    args = parser.parse_args(argv)
    doc = Gen(args.anchor).build()
    args.out.write_text(dump(doc), encoding="utf-8")
    counts: dict[str, int] = {}
    for r in doc["records"]:
        counts[r["entity"]] = counts.get(r["entity"], 0) + 1
    print(f"wrote {args.out}: {len(doc['users'])} users, "
          + ", ".join(f"{n} {e}" for e, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Wuhan (武汉市, 420100): its 13 districts with their national administrative division codes
(GB/T 2260), an approximate centre for each, and a sample of real street offices (街道).

Street codes here are the district code plus a serial number; they are stand-ins, not the
official 9- or 12-digit township codes."""

from __future__ import annotations

CITY = ("420100", "武汉市", "Wuhan", 30.593, 114.305)

# code, Chinese name, English name, latitude, longitude, [(street, street in pinyin)]
DISTRICTS: list[tuple[str, str, str, float, float, list[tuple[str, str]]]] = [
    (
        "420102",
        "江岸区",
        "Jiang'an",
        30.600,
        114.309,
        [
            ("大智街道", "Dazhi"),
            ("一元街道", "Yiyuan"),
            ("四唯街道", "Siwei"),
            ("后湖街道", "Houhu"),
        ],
    ),
    (
        "420103",
        "江汉区",
        "Jianghan",
        30.601,
        114.270,
        [
            ("民族街道", "Minzu"),
            ("花楼街道", "Hualou"),
            ("万松街道", "Wansong"),
            ("唐家墩街道", "Tangjiadun"),
        ],
    ),
    (
        "420104",
        "硚口区",
        "Qiaokou",
        30.583,
        114.215,
        [
            ("古田街道", "Gutian"),
            ("宗关街道", "Zongguan"),
            ("韩家墩街道", "Hanjiadun"),
            ("汉正街道", "Hanzheng"),
        ],
    ),
    (
        "420105",
        "汉阳区",
        "Hanyang",
        30.554,
        114.218,
        [
            ("建桥街道", "Jianqiao"),
            ("鹦鹉街道", "Yingwu"),
            ("琴断口街道", "Qinduankou"),
            ("永丰街道", "Yongfeng"),
        ],
    ),
    (
        "420106",
        "武昌区",
        "Wuchang",
        30.554,
        114.316,
        [
            ("积玉桥街道", "Jiyuqiao"),
            ("徐家棚街道", "Xujiapeng"),
            ("白沙洲街道", "Baishazhou"),
            ("南湖街道", "Nanhu"),
        ],
    ),
    (
        "420107",
        "青山区",
        "Qingshan",
        30.640,
        114.385,
        [
            ("红卫路街道", "Hongweilu"),
            ("冶金街道", "Yejin"),
            ("红钢城街道", "Honggangcheng"),
            ("武东街道", "Wudong"),
            ("工人村街道", "Gongrencun"),
            ("厂前街道", "Changqian"),
        ],
    ),
    (
        "420111",
        "洪山区",
        "Hongshan",
        30.500,
        114.344,
        [
            ("珞南街道", "Luonan"),
            ("关山街道", "Guanshan"),
            ("张家湾街道", "Zhangjiawan"),
            ("青菱街道", "Qingling"),
        ],
    ),
    (
        "420112",
        "东西湖区",
        "Dongxihu",
        30.620,
        114.137,
        [
            ("吴家山街道", "Wujiashan"),
            ("将军路街道", "Jiangjunlu"),
            ("走马岭街道", "Zoumaling"),
            ("径河街道", "Jinghe"),
        ],
    ),
    (
        "420113",
        "汉南区",
        "Hannan",
        30.309,
        114.085,
        [
            ("纱帽街道", "Shamao"),
            ("邓南街道", "Dengnan"),
            ("东荆街道", "Dongjing"),
            ("湘口街道", "Xiangkou"),
        ],
    ),
    (
        "420114",
        "蔡甸区",
        "Caidian",
        30.582,
        114.029,
        [
            ("蔡甸街道", "Caidian"),
            ("奓山街道", "Zhashan"),
            ("永安街道", "Yong'an"),
            ("侏儒山街道", "Zhurushan"),
        ],
    ),
    (
        "420115",
        "江夏区",
        "Jiangxia",
        30.375,
        114.322,
        [
            ("纸坊街道", "Zhifang"),
            ("金口街道", "Jinkou"),
            ("乌龙泉街道", "Wulongquan"),
            ("郑店街道", "Zhengdian"),
        ],
    ),
    (
        "420116",
        "黄陂区",
        "Huangpi",
        30.882,
        114.375,
        [
            ("前川街道", "Qianchuan"),
            ("横店街道", "Hengdian"),
            ("滠口街道", "Shekou"),
            ("武湖街道", "Wuhu"),
        ],
    ),
    (
        "420117",
        "新洲区",
        "Xinzhou",
        30.841,
        114.801,
        [
            ("邾城街道", "Zhucheng"),
            ("阳逻街道", "Yangluo"),
            ("仓埠街道", "Cangbu"),
            ("双柳街道", "Shuangliu"),
        ],
    ),
]

# Where the demo places industries: heavier weight = more enterprises of that kind there.
# Qingshan is home to the steel works; Yangluo, Hannan and Qingshan's north to the chemical parks.
INDUSTRY_WEIGHTS: dict[str, dict[str, int]] = {
    "420107": {
        "metallurgy": 6,
        "hazardous_chemicals": 3,
        "dust_explosion": 1,
        "aluminium_processing": 1,
        "other": 1,
    },
    "420117": {
        "hazardous_chemicals": 4,
        "aluminium_processing": 2,
        "metallurgy": 1,
        "dust_explosion": 1,
        "other": 1,
    },
    "420113": {
        "hazardous_chemicals": 3,
        "aluminium_processing": 2,
        "dust_explosion": 2,
        "other": 1,
    },
    "420112": {
        "dust_explosion": 3,
        "aluminium_processing": 2,
        "hazardous_chemicals": 1,
        "other": 2,
    },
    "420114": {"aluminium_processing": 3, "dust_explosion": 2, "metallurgy": 1, "other": 1},
}
DEFAULT_WEIGHTS = {
    "hazardous_chemicals": 2,
    "metallurgy": 1,
    "dust_explosion": 2,
    "aluminium_processing": 1,
    "other": 3,
}

NAME_WORDS = (
    "长江",
    "汉江",
    "楚天",
    "江城",
    "东湖",
    "晴川",
    "黄鹤",
    "鹦鹉",
    "珞珈",
    "光谷",
    "天河",
    "荆楚",
    "华中",
    "中南",
    "龟山",
    "蛇山",
    "沙湖",
    "南湖",
    "月湖",
    "墨湖",
    "后湖",
    "盘龙",
    "木兰",
    "沌口",
    "江汉",
    "金银",
    "梅子",
    "知音",
    "琴台",
    "首义",
    "鼎新",
    "宏达",
    "恒信",
    "瑞丰",
    "兴旺",
    "永盛",
    "德隆",
    "明辉",
    "众诚",
    "汇通",
)
NAME_SUFFIXES: dict[str, tuple[str, ...]] = {
    "hazardous_chemicals": (
        "化工有限公司",
        "气体有限公司",
        "危险品仓储有限公司",
        "精细化工有限公司",
        "石化有限公司",
    ),
    "metallurgy": (
        "钢铁有限公司",
        "冶金材料有限公司",
        "铸造有限公司",
        "特钢有限公司",
        "金属制品有限公司",
    ),
    "dust_explosion": (
        "木业有限公司",
        "粮油加工有限公司",
        "家具制造有限公司",
        "饲料有限公司",
        "纸业有限公司",
    ),
    "aluminium_processing": (
        "铝业有限公司",
        "铝型材有限公司",
        "铝制品有限公司",
        "有色金属加工有限公司",
    ),
    "other": (
        "机械制造有限公司",
        "物流有限公司",
        "电子科技有限公司",
        "建材有限公司",
        "印务有限公司",
    ),
}
KEY_POINT_KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "hazardous_chemicals": (("1号储罐", "储罐"), ("装卸站台", "装卸区"), ("危化品仓库", "仓库")),
    "metallurgy": (("高炉平台", "高温熔融"), ("煤气柜", "煤气设施")),
    "dust_explosion": (("除尘器", "除尘系统"), ("打磨车间", "粉尘作业区")),
    "aluminium_processing": (("深井铸造机", "深井铸造"), ("熔炼炉", "熔炼")),
    "other": (("配电房", "电气"),),
}
STREET_ROADS = (
    "和平大道",
    "解放大道",
    "建设大道",
    "青山路",
    "沿江大道",
    "中山大道",
    "工业大道",
    "友谊大道",
    "珞喻路",
    "汉阳大道",
)

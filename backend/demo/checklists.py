"""Demo checklist templates (检查表), one per industry, as a safety office would start with them."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from backend.inspections.services import publish_template
from backend.models import ChecklistTemplate, HazardCategory, Industry, Severity

G, M = Severity.GENERAL.value, Severity.MAJOR.value
C = HazardCategory

# industry -> (title zh, title en, [(code, zh, en, category, default severity)])
CHECKLISTS: dict[str, tuple[str, str, list[tuple[str, str, str, str, str]]]] = {
    Industry.HAZARDOUS_CHEMICALS: (
        "危险化学品企业安全检查表",
        "Hazardous chemicals site checklist",
        [
            (
                "HC-01",
                "储罐区防火堤完好，无裂缝、无孔洞",
                "Tank farm bund walls intact, no cracks or holes",
                C.CHEMICALS,
                M,
            ),
            (
                "HC-02",
                "可燃气体报警器在检定有效期内且运行正常",
                "Flammable gas detectors within calibration date and working",
                C.GAS,
                M,
            ),
            (
                "HC-03",
                "危化品仓库分区分类存放，禁忌物料未混存",
                "Chemicals stored by class; incompatible materials kept apart",
                C.CHEMICALS,
                M,
            ),
            (
                "HC-04",
                "重大危险源监控系统在线，数据上传正常",
                "Major hazard source monitoring online and reporting",
                C.CHEMICALS,
                M,
            ),
            (
                "HC-05",
                "动火、受限空间作业票证齐全并落实监护",
                "Hot work and confined-space permits complete, with a watcher",
                C.CONFINED_SPACE,
                M,
            ),
            (
                "HC-06",
                "装卸区静电接地装置完好",
                "Static grounding at the loading bay in good order",
                C.ELECTRICAL,
                G,
            ),
            (
                "HC-07",
                "应急物资（防毒面具、洗眼器、吸附材料）配备齐全",
                "Emergency kit (respirators, eyewash, absorbents) complete",
                C.OTHER,
                G,
            ),
            (
                "HC-08",
                "消防通道畅通，消防器材在有效期内",
                "Fire lanes clear; extinguishers within their service date",
                C.FIRE,
                G,
            ),
        ],
    ),
    Industry.METALLURGY: (
        "冶金企业安全检查表",
        "Metallurgy plant checklist",
        [
            (
                "MT-01",
                "煤气区域CO报警装置正常，定期校验",
                "CO alarms in gas areas working and regularly tested",
                C.GAS,
                M,
            ),
            (
                "MT-02",
                "煤气管道、阀门无泄漏，盲板管理台账完整",
                "Gas pipes and valves leak-free; blind-plate log complete",
                C.GAS,
                M,
            ),
            (
                "MT-03",
                "高温熔融金属吊运使用冶金专用起重机",
                "Molten metal lifted only with metallurgical cranes",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "MT-04",
                "熔融金属作业区域地面干燥、无积水",
                "Floor around molten metal dry, no standing water",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "MT-05",
                "炉体冷却水系统压力、流量监测及报警正常",
                "Furnace cooling water pressure/flow monitoring and alarms working",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "MT-06",
                "起重机械定期检验合格并在有效期内",
                "Cranes inspected and certificate in date",
                C.SPECIAL_EQUIPMENT,
                G,
            ),
            (
                "MT-07",
                "配电室防小动物措施、绝缘用具齐全",
                "Switch room sealed against animals; insulating tools present",
                C.ELECTRICAL,
                G,
            ),
            (
                "MT-08",
                "作业人员劳动防护用品穿戴规范",
                "Workers wear the required protective equipment",
                C.OTHER,
                G,
            ),
        ],
    ),
    Industry.DUST_EXPLOSION: (
        "粉尘涉爆企业安全检查表",
        "Combustible dust site checklist",
        [
            (
                "DE-01",
                "除尘系统防爆泄压装置完好",
                "Dust collector explosion venting intact",
                C.DUST,
                M,
            ),
            (
                "DE-02",
                "粉尘清扫制度落实，清扫记录完整",
                "Dust cleaning done to schedule, records complete",
                C.DUST,
                M,
            ),
            (
                "DE-03",
                "除尘器采用负压方式且未设在室内",
                "Dust collector under negative pressure, not indoors",
                C.DUST,
                M,
            ),
            (
                "DE-04",
                "除尘系统按工艺分区设置，未互联互通",
                "Dust extraction separated by process, not interconnected",
                C.DUST,
                M,
            ),
            (
                "DE-05",
                "粉尘爆炸危险场所电气设备符合防爆要求",
                "Electrical equipment in dust zones is explosion-proof",
                C.ELECTRICAL,
                M,
            ),
            (
                "DE-06",
                "设备设施可靠接地，防止静电积聚",
                "Equipment bonded and grounded against static build-up",
                C.ELECTRICAL,
                G,
            ),
            (
                "DE-07",
                "铝镁等金属粉尘湿式除尘水质、水位监测正常",
                "Wet scrubber water level and quality monitored (Al/Mg dust)",
                C.DUST,
                G,
            ),
            (
                "DE-08",
                "作业场所无明火、无违规动火",
                "No open flames or unpermitted hot work in the area",
                C.FIRE,
                G,
            ),
        ],
    ),
    Industry.ALUMINIUM_PROCESSING: (
        "铝加工（深井铸造）企业安全检查表",
        "Aluminium processing (deep-well casting) checklist",
        [
            (
                "AL-01",
                "深井铸造冷却水系统与流槽紧急排放联锁有效",
                "Deep-well casting cooling water interlocked with launder emergency dump",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "AL-02",
                "铸造井口防护及铸井内无积水",
                "Casting pit guarded and free of water",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "AL-03",
                "熔炼炉、保温炉冷却水压力报警正常",
                "Melting and holding furnace cooling water pressure alarms working",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "AL-04",
                "铝液流槽、浇铸平台设有紧急排放和应急储存设施",
                "Launder and casting table have emergency dump and storage",
                C.MOLTEN_METAL,
                M,
            ),
            (
                "AL-05",
                "天然气管道及燃烧器熄火保护装置完好",
                "Gas lines and burner flame-failure protection intact",
                C.GAS,
                M,
            ),
            (
                "AL-06",
                "铝屑、铝灰存放场所干燥通风，防潮防水",
                "Aluminium swarf and dross kept dry and ventilated",
                C.DUST,
                G,
            ),
            (
                "AL-07",
                "起重机械、液压升降平台定期检验合格",
                "Cranes and hydraulic casting platforms inspected and in date",
                C.SPECIAL_EQUIPMENT,
                G,
            ),
        ],
    ),
    Industry.OTHER: (
        "一般工商贸企业安全检查表",
        "General workplace checklist",
        [
            (
                "GN-01",
                "安全出口、疏散通道畅通，应急照明完好",
                "Exits and escape routes clear, emergency lighting working",
                C.FIRE,
                M,
            ),
            (
                "GN-02",
                "消防器材配置齐全并在有效期内",
                "Fire extinguishers present and within their service date",
                C.FIRE,
                G,
            ),
            (
                "GN-03",
                "电气线路无私拉乱接，配电箱门完好",
                "No improvised wiring; distribution boxes closed and intact",
                C.ELECTRICAL,
                G,
            ),
            (
                "GN-04",
                "特种设备登记使用并定期检验",
                "Special equipment registered and inspected",
                C.SPECIAL_EQUIPMENT,
                G,
            ),
            (
                "GN-05",
                "有限空间作业审批及警示标识齐全",
                "Confined spaces have permits and warning signs",
                C.CONFINED_SPACE,
                M,
            ),
            ("GN-06", "员工安全培训记录完整", "Staff safety training records complete", C.OTHER, G),
        ],
    ),
}


def seed_checklists(session: Session) -> int:
    """Version 1 of each industry's checklist, unless some template exists already (also for a
    database seeded before checklists existed). Returns how many templates were added."""
    if session.execute(select(ChecklistTemplate).limit(1)).first() is not None:
        return 0
    for industry, (title_zh, title_en, items) in CHECKLISTS.items():
        publish_template(session, industry, title_zh, title_en, items)
    return len(CHECKLISTS)

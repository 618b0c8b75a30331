"""Demo contingency plans (危化品泄漏, 火灾, 粉尘爆炸) and a protection-target layer of Wuhan
schools and hospitals. Names are real institutions; coordinates are approximate (to ~100 m)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlmodel import Session

from backend.models import (
    Plan,
    PlanRole,
    PlanTargetKind,
    PlanTaskTemplate,
    ProtectionTarget,
    Unit,
    utcnow,
)

# (kind, name, latitude, longitude, address, unit code: district, or street where known)
TARGETS = (
    ("hospital", "武汉市第九医院", 30.6357, 114.3838, "青山区吉林街20号", "420107"),
    ("hospital", "华润武钢总医院", 30.6285, 114.3705, "青山区冶金大道209号", "420107"),
    ("hospital", "武汉科技大学附属普仁医院", 30.6398, 114.3925, "青山区本溪街1号", "420107"),
    ("school", "武钢三中", 30.6262, 114.3780, "青山区红钢城", "420107001"),
    ("school", "武汉市第四十九中学", 30.6432, 114.3851, "青山区", "420107001"),
    ("kindergarten", "青山区红卫路幼儿园", 30.6331, 114.3792, "青山区红卫路", "420107001"),
    ("nursing_home", "青山区社会福利院", 30.6475, 114.3980, "青山区", "420107"),
    ("hospital", "武汉大学人民医院", 30.5466, 114.3005, "武昌区解放路238号", "420106"),
    (
        "hospital",
        "华中科技大学同济医学院附属协和医院",
        30.5875,
        114.2742,
        "江汉区解放大道1277号",
        "420103",
    ),
    (
        "hospital",
        "华中科技大学同济医学院附属同济医院",
        30.5815,
        114.2623,
        "硚口区解放大道1095号",
        "420104",
    ),
    ("school", "华中师范大学第一附属中学", 30.5155, 114.3980, "洪山区", "420111"),
    ("school", "武汉外国语学校", 30.6025, 114.2695, "江汉区", "420103"),
)

ALL_KINDS = ("school", "kindergarten", "hospital", "nursing_home")
# (key, title, unit level, position)
ROLES = (
    ("district_command", "区级现场指挥", "district", "district_officer"),
    ("street_command", "街道现场指挥", "street", "street_dispatcher"),
    ("street_team", "街道应急处置队", "street", "street_responder"),
    ("grid_evacuation", "网格员疏散引导", "grid", "grid_inspector"),
)
# plan name, incident types, base radius, per level, target kinds,
# templates: (role key, title, instructions, risk tips, accept minutes, complete minutes)
PLANS = (
    (
        "危化品泄漏事故处置预案",
        ["chemical_leak", "gas_leak"],
        800,
        700,
        ALL_KINDS,
        (
            (
                "district_command",
                "启动区级响应",
                "联系生态环境、消防部门，确定警戒范围。",
                "注意风向，指挥部设在上风向。",
                10,
                120,
            ),
            (
                "street_command",
                "设置警戒区",
                "在影响半径边界设置警戒，疏导车辆和行人。",
                "佩戴防毒面具，勿进入泄漏区。",
                10,
                120,
            ),
            (
                "street_team",
                "核查半径内学校和医院",
                "逐一联系半径内学校、医院，通知关窗、停止户外活动。",
                "不得进入下风向低洼处。",
                15,
                180,
            ),
            (
                "grid_evacuation",
                "疏散网格内居民",
                "按网格名册上门通知，引导居民向上风向疏散。",
                "优先老人、儿童和行动不便者。",
                15,
                240,
            ),
        ),
    ),
    (
        "火灾事故处置预案",
        ["fire"],
        300,
        300,
        ("school", "hospital", "nursing_home"),
        (
            (
                "street_command",
                "现场协调",
                "配合消防救援，清理消防通道。",
                "注意建筑坍塌风险。",
                10,
                120,
            ),
            (
                "street_team",
                "疏散周边人员",
                "疏散周边建筑内人员，清点人数。",
                "烟气有毒，低姿撤离。",
                10,
                120,
            ),
            (
                "grid_evacuation",
                "核查周边养老院和学校",
                "联系半径内养老院、学校，确认人员安全。",
                "不得返回火场取物。",
                15,
                180,
            ),
        ),
    ),
    (
        "粉尘爆炸事故处置预案",
        ["dust_explosion"],
        500,
        500,
        ALL_KINDS,
        (
            (
                "district_command",
                "启动区级响应",
                "协调应急、消防、卫健部门，组织伤员转运。",
                "警惕二次爆炸。",
                10,
                120,
            ),
            (
                "street_command",
                "设置警戒区",
                "封闭涉事企业周边道路。",
                "禁止明火和开关电器。",
                10,
                120,
            ),
            (
                "street_team",
                "排查周边涉粉企业",
                "通知半径内涉粉企业停产、断电。",
                "警惕二次爆炸。",
                15,
                180,
            ),
            (
                "grid_evacuation",
                "疏散网格内居民",
                "上门通知并引导疏散。",
                "优先老人、儿童。",
                15,
                240,
            ),
        ),
    ),
)


def seed_plans(session: Session) -> dict[str, int]:
    """Insert the demo plans and targets unless a plan exists; the caller commits."""
    if session.execute(select(Plan.id).limit(1)).first() is not None:
        return {}
    now = utcnow()
    for name, types, base, step, kinds, templates in PLANS:
        plan = Plan(
            name=name,
            incident_types=list(types),
            base_radius_m=base,
            radius_per_level_m=step,
            created_at=now,
            updated_at=now,
        )
        session.add(plan)
        session.flush()
        roles: dict[str, int] = {}
        used = {template[0] for template in templates}
        for sort, (key, title, level, position) in enumerate(r for r in ROLES if r[0] in used):
            role = PlanRole(
                plan_id=plan.id,
                key=key,
                title=title,
                unit_level=level,
                position=position,
                sort=sort,
            )
            session.add(role)
            session.flush()
            assert role.id is not None
            roles[key] = role.id
        session.execute(
            insert(PlanTaskTemplate),
            [
                {
                    "plan_id": plan.id,
                    "role_id": roles[key],
                    "title": title,
                    "instructions": instructions,
                    "manual": "",
                    "risk_tips": tips,
                    "accept_minutes": accept,
                    "complete_minutes": complete,
                }
                for key, title, instructions, tips, accept, complete in templates
            ],
        )
        session.execute(insert(PlanTargetKind), [{"plan_id": plan.id, "kind": k} for k in kinds])
    paths = dict(session.execute(select(Unit.code, Unit.path)).all())
    rows = [
        {"kind": k, "name": n, "latitude": la, "longitude": lo, "address": a, "unit_path": paths[c]}
        for k, n, la, lo, a, c in TARGETS
        if c in paths
    ]
    if rows and session.execute(select(ProtectionTarget.id).limit(1)).first() is None:
        session.execute(insert(ProtectionTarget), rows)
    return {"plans": len(PLANS), "protection_targets": len(rows)}

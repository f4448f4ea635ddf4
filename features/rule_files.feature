# language: zh-CN
功能: 规则文件的检查和规则示例
  规则由审核人员用 YAML 编写。规则包里只要有一处写错，整个规则包都不加载、不筛查任何病例，
  并报告出错的文件、行、列和可能想写的名称，不会出现“一半规则生效”的情况。
  每条规则都写明依据（references.yaml 中的文件和条款，如“川医保办发〔2025〕18号 六（四）”），引用的文件或
  条款在 references.yaml 中找不到的，同样整个规则包拒绝加载。
  每条规则都附有命中示例和不命中示例；运行规则示例时，每个示例都用真实引擎筛查一遍，
  不符合预期的示例会指出是哪一个条件与预期不符。

  背景:
    假如 就医地病组表如下
      | 就医地 | 病组 | 名称                               | 权重 | 次均费用 | 平均住院日 |
      | 510100 | ES35 | 呼吸系统感染/炎症，不伴并发症或合并症 | 0.8  | 9500     | 8          |
      | 510700 | ES35 | 呼吸系统感染/炎症，不伴并发症或合并症 | 0.8  | 9500     | 8          |
    并且 定点医疗机构如下
      | 机构编码 | 名称               | 统筹区 | 等级 |
      | H1       | 成都市第一人民医院 | 510100 | 三级 |
      | M1       | 绵阳市中心医院     | 510700 | 三级 |

  场景大纲: 规则文件写错一处，整个规则包拒绝加载，不筛查任何病例
    假如 审核人员的规则目录是内置规则包的一份副本
    并且 审核人员把 <文件> 中的 "<原文>" 改为 "<改后>"
    并且 参保人有以下住院记录
      | 结算清单号 | 参保人 | 参保地 | 医院 | 病组 | 医疗费总额 | 入院日期   | 住院天数 |
      | X          | P1     | 510700 | H1   | ES35 | 30400      | 2025-04-01 | 60       |
      | Y          | P2     | 510100 | M1   | ES35 | 24700      | 2025-06-10 | 7        |
    当 加载规则包并筛查这批住院
    那么 规则包不能加载，唯一的报错为 "<报错>"
    并且 没有筛查任何病例
    假如 审核人员把 <文件> 中的 "<改后>" 改回 "<原文>"
    当 加载规则包并筛查这批住院
    那么 病例 X 命中 OUT-HIGH-001
    并且 病例 X 命中 LOS-001
    并且 病例 Y 命中 OUT-HIGH-001

    例子:
      | 文件                | 原文                            | 改后                           | 报错                                                                                             |
      | outliers.yaml       | cost_ratio >= high_ratio_limit  | cost_rato >= high_ratio_limit  | outliers.yaml:20:9: unknown field `cost_rato` (did you mean `cost_ratio`?)                       |
      | long_stay.yaml      | los_days >= params.max_los_days | los_days >= params.max_los_day | long_stay.yaml:17:21: unknown param `max_los_day` (did you mean `max_los_days`?)                  |
      | regions/510700.yaml | COST-001:                       | COST-01:                       | regions/510700.yaml:8:3: region 510700 overrides unknown rule `COST-01` (did you mean `COST-001`?) |
      | coaching_period.yaml | 管理通知（2025） 政策辅导期 | 管理通知（2025） 辅导期 | coaching_period.yaml:16:17: reference `国家医保局定点医疗机构管理通知（2025） 辅导期`: 国家医保局定点医疗机构管理通知（2025） has no article `辅导期` in references.yaml (did you mean `政策辅导期`?) |
      | references.yaml      | 政策辅导期:                 | 辅导期:                 | coaching_period.yaml:16:17: reference `国家医保局定点医疗机构管理通知（2025） 政策辅导期`: 国家医保局定点医疗机构管理通知（2025） has no article `政策辅导期` in references.yaml (did you mean `辅导期`?) |

  场景: 内置规则包检查无误，每个规则示例都符合预期
    假如 内置规则包检查无误
    当 运行规则示例
    那么 每个示例都通过
    并且 以下规则都既有命中示例又有不命中示例
      | 规则         |
      | SPLIT-001    |
      | UPC-001      |
      | UPC-002      |
      | OUT-HIGH-001 |
      | OUT-LOW-001  |
      | LOS-001      |
      | COST-001     |
      | LOWADM-001   |
      | FREQ-001     |
      | COACH-001    |
      | SPLIT-002    |
      | SPLIT-003    |
      | UPC-003      |
      | UPC-004      |
      | OUT-EXT-001  |
      | OUT-UNG-001  |
      | OUT-DEATH-001 |
      | OUT-ICU-001  |
      | OUT-NEW-001  |
      | FREQ-002     |
      | COST-002     |
      | DQ-001       |
      | DQ-003       |
      | DQ-004       |
      | DQ-005       |
      | DQ-006       |

  场景: 把不命中示例误写成命中示例，规则示例指出哪个条件不成立
    假如 审核人员的规则目录是内置规则包的一份副本
    并且 审核人员把 split_hospitalization.yaml 中 SPLIT-001 的示例“间隔超过15天”改为命中示例
    当 运行规则示例
    那么 只有 SPLIT-001 的示例“间隔超过15天”未通过
    并且 该示例的失败说明是预期命中、实际未命中
    并且 失败说明标出的条件为
      | 条件                                                     |
      | admit_date - earlier.discharge_date <= params.window_days |

  场景: 把命中示例误写成不命中示例，规则示例指出是哪些条件促成了命中
    假如 审核人员的规则目录是内置规则包的一份副本
    并且 审核人员把 cost_shifting.yaml 中 COST-001 的示例“自费占40%”改为不命中示例
    当 运行规则示例
    那么 只有 COST-001 的示例“自费占40%”未通过
    并且 该示例的失败说明是预期未命中、实际命中
    并且 失败说明标出的条件为
      | 条件                                  |
      | self_share >= params.max_self_share |

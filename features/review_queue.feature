# language: zh-CN
功能: 特例单议审核队列
  筛查命中“进入特例单议”（各统筹区可在 review_case_actions 中加上 hold、deduct）的病例，每份结算清单
  生成一个审核案件，按“疑点金额 × 严重程度权重”排序，由特例单议会议逐例审议并作出决定。
  同一批次重新筛查不丢失已作出的决定：只有出现新的证据（命中的金额、事实、阈值变了，或新规则命中）时，
  已决案件才重新打开，并写明原因。每家医院在就医地的结算周期（年度、季度或月度，就医地参数
  special_review_quota_period，全国默认按年度）内进入特例单议的病例数，不超过其该周期内（按出院日期自
  周期首日累计）按病组付费病例数的 5%（按病种分值付费为 5‰，医保办发〔2024〕9号），超出须写明理由并记入
  审核日志。两位专家同时对同一病例作出决定时，
  后提交者被拒绝，先作出的决定不被覆盖。

  背景:
    假如 病例库中有医院 H001 在 2025-03 出院的 40 份按病组付费的结算清单 C000001 至 C000040

  场景: 同一批次重新筛查，已作出的决定保留，只有新证据才重新打开
    假如 第 1 批次的筛查结果如下
      | 病例    | 规则         | 严重程度 | 处理方式       | 疑点金额 |
      | C000001 | OUT-HIGH-001 | medium   | special_review | 5000     |
      | C000002 | COST-001     | high     | deduct         | 700      |
    那么 审核队列中只有病例 C000001，状态为 new
    假如 特例单议会议审议病例 C000001，决定扣减 1,200 元，理由为“重复收费”
    当 第 1 批次重新筛查，结果不变
    那么 病例 C000001 的状态为 decided
    并且 病例 C000001 的决定仍为扣减 1,200.00 元
    并且 审核日志中病例 C000001 的记录依次为 created、scheduled、decided
    当 第 1 批次重新筛查，病例 C000001 的 OUT-HIGH-001 疑点金额变为 6,500 元
    那么 病例 C000001 的状态为 new
    并且 病例 C000001 重新打开的原因为“re-screen of batch 1: evidence of OUT-HIGH-001 changed (was decided)”
    并且 病例 C000001 的决定仍为扣减 1,200.00 元
    并且 审核日志中病例 C000001 的记录依次为 created、scheduled、decided、reopened

  场景: 超出医院特例单议额度须写明理由
    # 40 份按病组付费病例 × 5% = 2 例
    假如 第 1 批次的筛查结果如下
      | 病例    | 规则         | 严重程度 | 处理方式       | 疑点金额 |
      | C000001 | OUT-HIGH-001 | high     | special_review | 3000     |
      | C000002 | LOS-001      | high     | special_review | 2000     |
      | C000003 | SPLIT-001    | high     | special_review | 1000     |
    并且 已创建 510100 的特例单议会议，可审议 5 例
    当 把病例 C000001、C000002 排入会议
    那么 病例 C000001 的状态为 scheduled
    并且 病例 C000002 的状态为 scheduled
    当 把病例 C000003 排入会议
    那么 排入被拒绝，提示为“case 3: quota H001 2025 DRG: 2 of 2 cases scheduled for review (5.0% of 40 DRG cases discharged in 2025 so far); scheduling it would make 3, over the quota — give --override-quota REASON to go over it”
    并且 病例 C000003 的状态为 new
    当 把病例 C000003 排入会议，超额理由为“危重抢救病例，经分管领导同意”
    那么 病例 C000003 的状态为 scheduled
    并且 审核日志记录了病例 C000003 的超额理由“危重抢救病例，经分管领导同意”

  场景: 两位专家同时对同一病例作出决定，后提交者被拒绝
    假如 第 1 批次的筛查结果如下
      | 病例    | 规则         | 严重程度 | 处理方式       | 疑点金额 |
      | C000001 | OUT-HIGH-001 | high     | special_review | 3000     |
    并且 已创建 510100 的特例单议会议，可审议 5 例
    并且 病例 C000001 已排入会议
    当 专家甲和专家乙同时打开病例 C000001
    并且 专家甲决定扣减 800 元
    并且 专家乙决定批准特例支付 3,000 元
    那么 专家乙被告知冲突，提示包含“was changed by someone else while you worked on it”和“nothing was saved”
    并且 病例 C000001 只有一个决定：专家甲扣减 800.00 元
    并且 审核日志完整

  场景大纲: 特例单议比例按就医地的结算周期累计计算，不按医院逐月取整
    # 每月 40 份按病种分值付费病例：按月计算 ⌊5‰ × 40⌋ = 0，任何病例都不能进入特例单议；
    # 按年度累计到 5 月共 200 份，⌊5‰ × 200⌋ = 1 例
    假如 就医地 510100 的特例单议比例按 <周期> 计算
    并且 病例库中还有医院 H100 在 2025 年 1 至 5 月每月出院 40 份按病种分值付费的结算清单
    并且 第 2 批次的筛查结果如下
      | 病例    | 规则         | 严重程度 | 处理方式       | 疑点金额 |
      | C000500 | OUT-HIGH-001 | high     | special_review | 3000     |
    那么 病例 C000500 的特例单议额度为“<额度>”

    例子:
      | 周期    | 额度                                                                                                    |
      | month   | quota H100 2025-05 DIP: 0 of 0 cases scheduled for review (0.5% of 40 DIP cases discharged in 2025-05 so far) |
      | quarter | quota H100 2025Q2 DIP: 0 of 0 cases scheduled for review (0.5% of 80 DIP cases discharged in 2025Q2 so far)   |
      | year    | quota H100 2025 DIP: 0 of 1 cases scheduled for review (0.5% of 200 DIP cases discharged in 2025 so far)       |

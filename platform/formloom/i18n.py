"""Translated messages that must work outside a request (cleaning runs in the
API, the CLI and the reminder worker too).

Messages are plain English sentences used as msgids, with `%(name)s`
placeholders; `translate(lang, msgid, **params)` looks the msgid up in the
language's catalogue (falling back to the English msgid) and then fills in the
placeholders. The web layer may also feed `CATALOGUES` to Flask-Babel. This
module imports nothing else of ours.
"""
from __future__ import annotations

from typing import Any, Mapping

#: language -> {English msgid: translation}. English needs no catalogue.
CATALOGUES: dict[str, dict[str, str]] = {
    "zh": {
        # -- common --
        "This field is required.": "此项为必填项。",
        "This field does not exist.": "没有这个字段。",
        "This field is computed and cannot be set.": "此字段由系统计算，不能手动设置。",
        "Yes": "是",
        "No": "否",
        "1 row": "1 行",
        "%(count)s rows": "%(count)s 行",
        "Row %(row)s, %(column)s: %(message)s": "第 %(row)s 行，%(column)s：%(message)s",
        "Row %(row)s: %(message)s": "第 %(row)s 行：%(message)s",
        # -- records --
        "This field cannot be changed.": "此字段不可修改。",
        "There is no such record.": "没有这条记录。",
        "Another record already has this value.": "已有其他记录使用了此值。",
        "Someone else changed this record while you were editing it.": "你编辑期间，其他人修改了这条记录。",
        "Review the current values below and apply your change again.": "请查看下方的当前值，然后重新修改。",
        # -- text --
        "Enter text.": "请输入文本。",
        "Enter at most %(max)s characters (this has %(length)s).": "最多输入 %(max)s 个字符（当前 %(length)s 个）。",
        "Remove the control characters (such as line breaks) from this text.": "请删除文本中的控制字符（例如换行符）。",
        "Remove the control characters from this text.": "请删除文本中的控制字符。",
        "This text does not have the expected format.": "文本格式不正确。",
        "Enter a valid email address.": "请输入有效的电子邮件地址。",
        "Enter a phone number of 5 to 20 digits; only digits, spaces, + - ( ) are allowed.":
            "请输入 5 到 20 位数字的电话号码；只能包含数字、空格和 + - ( )。",
        "Enter a web address starting with http:// or https://, such as https://example.com.":
            "请输入以 http:// 或 https:// 开头的网址，例如 https://example.com。",
        # -- numbers --
        "Enter a number.": "请输入数字。",
        "Enter a whole number.": "请输入整数。",
        "Enter a finite number.": "请输入有限的数字。",
        "Enter a number between %(min)s and %(max)s.": "请输入 %(min)s 到 %(max)s 之间的数字。",
        "Enter a number of at least %(min)s.": "请输入不小于 %(min)s 的数字。",
        "Enter a number of at most %(max)s.": "请输入不大于 %(max)s 的数字。",
        "Use at most %(places)s decimal places.": "最多保留 %(places)s 位小数。",
        "Enter an amount such as 1234.50 (at most 2 decimal places).": "请输入金额，例如 1234.50（最多两位小数）。",
        "Enter an amount of at least %(min)s.": "金额不能小于 %(min)s。",
        "Enter an amount of at most %(max)s.": "金额不能大于 %(max)s。",
        "Enter a whole number from 0 to %(max)s.": "请输入 0 到 %(max)s 之间的整数。",
        # -- dates --
        "Enter a date as YYYY-MM-DD.": "请按 YYYY-MM-DD 格式输入日期。",
        "%(value)s is not a date in the calendar.": "%(value)s 不是有效的日期。",
        "Enter a date on or after %(min)s.": "日期不能早于 %(min)s。",
        "Enter a date on or before %(max)s.": "日期不能晚于 %(max)s。",
        "Enter a date and time such as 2026-11-23T09:00:00+08:00.": "请输入日期和时间，例如 2026-11-23T09:00:00+08:00。",
        "Add a timezone offset such as +08:00 or Z: a time without a timezone is ambiguous.":
            "请加上时区偏移，例如 +08:00 或 Z：没有时区的时间有歧义。",
        "%(value)s is not a valid date and time.": "%(value)s 不是有效的日期时间。",
        # -- choices --
        "Choose one of the listed options.": "请从列出的选项中选择。",
        "%(value)s is not one of the options.": "%(value)s 不是可选项。",
        "Choose options from the list.": "请从列表中选择选项。",
        "%(value)s is chosen more than once.": "%(value)s 被重复选择。",
        "Choose at least %(min)s options.": "请至少选择 %(min)s 项。",
        "Choose at most %(max)s options.": "最多选择 %(max)s 项。",
        "Use true or false.": "请使用 true 或 false。",
        # -- links --
        "Enter a record id (a positive whole number).": "请输入记录编号（正整数）。",
        "Enter a list of record ids.": "请输入记录编号列表。",
        "Record %(id)s is listed more than once.": "记录 %(id)s 重复出现。",
        "No %(entity)s record with id %(id)s.": "没有编号为 %(id)s 的 %(entity)s 记录。",
        "Enter a user id (a positive whole number).": "请输入用户编号（正整数）。",
        "Enter a list of user ids.": "请输入用户编号列表。",
        "User %(id)s is listed more than once.": "用户 %(id)s 重复出现。",
        "No user with id %(id)s.": "没有编号为 %(id)s 的用户。",
        # -- subtable --
        "Enter a list of rows.": "请输入行的列表。",
        "Each row must be an object of column values.": "每一行必须是由列值组成的对象。",
        "This table has no column %(column)s.": "此表格没有 %(column)s 列。",
        "Add at least %(min)s rows.": "请至少添加 %(min)s 行。",
        "Keep at most %(max)s rows.": "最多保留 %(max)s 行。",
        # -- workflow: stages and gates --
        "Fill in %(field)s to enter %(stage)s.": "进入“%(stage)s”前请填写“%(field)s”。",
        "A condition of %(stage)s is not met.": "未满足“%(stage)s”的条件。",
        "Add at least %(min)s %(entity)s records (there are %(count)s).":
            "至少需要 %(min)s 条%(entity)s记录（目前 %(count)s 条）。",
        "Add at least %(min)s %(entity)s records since entering %(current)s (there are %(count)s).":
            "进入“%(current)s”后至少需要 %(min)s 条%(entity)s记录（目前 %(count)s 条）。",
        "Only %(roles)s may move records to %(stage)s.": "只有 %(roles)s 可以将记录移入“%(stage)s”。",
        "Only %(roles)s may reopen a record that is %(stage)s.": "只有 %(roles)s 可以重新打开处于“%(stage)s”的记录。",
        "A record that is %(stage)s cannot be reopened.": "处于“%(stage)s”的记录不能重新打开。",
        "%(stage)s can only be entered from %(stages)s.": "只能从 %(stages)s 进入“%(stage)s”。",
        "Stages cannot be skipped: move to %(next)s first.": "不能跳过阶段：请先移到“%(next)s”。",
        "This record cannot move to %(stage)s yet.": "此记录暂时不能移到“%(stage)s”。",
        "Complete what is listed and try again.": "请完成列出的事项后再试。",
        "%(entity)s has no pipeline.": "%(entity)s没有阶段流程。",
        "There is no stage %(stage)s in this pipeline.": "此流程中没有阶段 %(stage)s。",
        "Choose one of: %(stages)s.": "请从以下阶段中选择：%(stages)s。",
        "You may not change the stage of this record.": "你无权更改此记录的阶段。",
        "Only app admins may override a stage gate.": "只有应用管理员可以强制跳过阶段关卡。",
        "Say why you are overriding the stage gate.": "请说明强制跳过阶段关卡的原因。",
        "The reason is written to the stage history.": "原因会记录在阶段历史中。",
        # -- automation --
        "Escalation: %(title)s": "升级提醒：%(title)s",
        # -- lists: filters and sorting (branch firstday-lists) --
        "Cannot filter on %(field)s: there is no such field here.": "无法按 %(field)s 筛选：这里没有这个字段。",
        "Cannot use %(op)s on %(field)s. Allowed: %(allowed)s.": "“%(field)s”不能使用条件 %(op)s。可用：%(allowed)s。",
        "Cannot sort by %(field)s: there is no such field here.": "无法按 %(field)s 排序：这里没有这个字段。",
        "limit must be between 1 and %(max)s.": "limit 必须在 1 到 %(max)s 之间。",
        "offset must be between 0 and 10000000.": "offset 必须在 0 到 10000000 之间。",
        "Filter values cannot contain NUL characters.": "筛选值不能包含 NUL 字符。",
        "%(name)s must be a whole number.": "%(name)s 必须是整数。",
        "%(name)s is too large.": "%(name)s 太大了。",
        "%(value)s is not an option of %(field)s. Choose one of: %(options)s.":
            "%(value)s 不是“%(field)s”的选项。请从以下选项中选择：%(options)s。",
        "%(value)s is not a valid value for %(field)s.": "%(value)s 不是“%(field)s”的有效值。",
        "Enter a date and time such as 2026-11-02T09:30.": "请输入日期和时间，例如 2026-11-02T09:30。",
        "Enter yes or no.": "请输入“是”或“否”。",
        "%(value)s is not a stage here. Choose one of: %(stages)s.": "%(value)s 不是这里的阶段。请从以下阶段中选择：%(stages)s。",
        # -- firstday-moves: references that depend on the form --
        "Choose a %(entity)s whose %(their_field)s is the chosen %(field)s.": "请选择%(their_field)s为所选%(field)s的%(entity)s。",
        # -- io-forms: bulk edit, owners, public forms --
        "Unknown bulk action %(action)s.": "未知的批量操作 %(action)s。",
        "Available here: %(actions)s.": "可用操作：%(actions)s。",
        "Choose the field to set.": "请选择要设置的字段。",
        "Choose the stage to move to.": "请选择要移到的阶段。",
        "You may not change this record.": "您不能修改这条记录。",
        "You may not delete this record.": "您不能删除这条记录。",
        "The new owner must be an active member of this app.": "新负责人必须是此应用的在职成员。",
        "The form's key must start with a letter and use only a-z, 0-9 and _.": "表单标识须以字母开头，只能使用 a-z、0-9 和 _。",
        "Choose the entity the form creates records of.": "请选择表单要创建的记录类型。",
        "Choose at least one field for the form.": "请至少为表单选择一个字段。",
        "There is no field %(field)s.": "没有字段 %(field)s。",
        "%(field)s cannot be on a public form: it would show other records or people.":
            "“%(field)s”不能放在公开表单上：它会暴露其他记录或人员。",
        "%(field)s is required: put it on the form or give it a default.": "“%(field)s”为必填项：请放到表单上或设置默认值。",
        "Give the form a title.": "请为表单填写标题。",
        "%(origin)s is not a site address such as https://www.example.com.": "%(origin)s 不是网站地址（例如 https://www.example.com）。",
        "Another public form of this app already has the key %(key)s.": "此应用已有标识为 %(key)s 的公开表单。",
        # -- io-import: import and export (transfer/) --
        "Stage": "阶段",
        "Owner": "负责人",
        "%(entity)s has no stages.": "%(entity)s 没有阶段。",
        "%(value)s cannot be looked up.": "无法查找 %(value)s。",
        "%(value)s is not a date (write it as 2026-11-23 or 2026/11/23).": "%(value)s 不是日期（请写作 2026-11-23 或 2026/11/23）。",
        "%(value)s is not a number.": "%(value)s 不是数字。",
        "%(value)s is not an amount of money.": "%(value)s 不是金额。",
        "%(value)s is not one of the options: %(options)s.": "%(value)s 不是可选项之一：%(options)s。",
        "%(value)s is not yes or no (use 是/否, yes/no, true/false or 1/0).": "%(value)s 不是“是”或“否”（请用 是/否、yes/no、true/false 或 1/0）。",
        "%(value)s matches several %(entity)s records: %(candidates)s. Write #id to choose one.":
            "%(value)s 匹配到多条%(entity)s记录：%(candidates)s。请写 #编号 指定其中一条。",
        "%(value)s names several users: %(candidates)s. Use the email address.": "%(value)s 对应多个用户：%(candidates)s。请使用邮箱地址。",
        "Column %(column)s cannot be imported into %(field)s: there is no such field you may write.":
            "列 %(column)s 不能导入到 %(field)s：没有你可以填写的这个字段。",
        "Import an .xlsx or .csv file, not %(name)s.": "请导入 .xlsx 或 .csv 文件，而不是 %(name)s。",
        "No column is mapped to a field.": "没有任何列对应到字段。",
        "Open it in Excel and save it again as .xlsx.": "请用 Excel 打开并重新另存为 .xlsx。",
        "Row %(row)s has a cell longer than %(limit)s characters.": "第 %(row)s 行有单元格超过 %(limit)s 个字符。",
        "Save the CSV as UTF-8 and try again.": "请将 CSV 另存为 UTF-8 编码后重试。",
        "Save the spreadsheet as Excel (.xlsx) or CSV and try again.": "请将表格另存为 Excel (.xlsx) 或 CSV 后重试。",
        "The CSV file cannot be read: %(reason)s.": "无法读取 CSV 文件：%(reason)s。",
        "The file has more than %(limit)s columns.": "文件超过 %(limit)s 列。",
        "The file has more than %(limit)s rows; split it into smaller files.": "文件超过 %(limit)s 行，请拆分成较小的文件。",
        "The file is empty.": "文件是空的。",
        "The file is larger than %(limit)s MB.": "文件大于 %(limit)s MB。",
        "The file is neither UTF-8 nor GB18030 text.": "文件既不是 UTF-8 也不是 GB18030 文本。",
        "The file unpacks to far more data than it holds; it is refused as unsafe.": "文件解压后的数据量远超其大小，出于安全考虑已拒绝。",
        "The first row must name the columns, and it is empty.": "第一行必须是列名，但它是空的。",
        "The mapping names column %(n)s, which the file does not have.": "对应关系中的第 %(n)s 列在文件中不存在。",
        "The sheet %(sheet)s is empty.": "工作表 %(sheet)s 是空的。",
        "There is no %(entity)s %(value)s that you may read.": "没有你可查看的%(entity)s %(value)s。",
        "There is no %(entity)s called %(value)s that you may read.": "没有你可查看的名为 %(value)s 的%(entity)s。",
        "There is no %(key)s here.": "这里没有 %(key)s。",
        "There is no sheet %(sheet)s. Sheets: %(sheets)s.": "没有工作表 %(sheet)s。现有工作表：%(sheets)s。",
        "There is no user with the email or name %(value)s.": "没有邮箱或姓名为 %(value)s 的用户。",
        "This is not a valid .xlsx file.": "这不是有效的 .xlsx 文件。",
        "Two columns are mapped to the same field.": "有两列对应到了同一个字段。",
        "Unknown mode %(mode)s; use all-or-nothing or skip-bad-rows.": "未知模式 %(mode)s；请使用 all-or-nothing 或 skip-bad-rows。",
        "Upsert by %(field)s is not possible: it is not a unique field (unique fields: %(unique)s).":
            "无法按 %(field)s 更新：它不是唯一字段（唯一字段：%(unique)s）。",
        "Upsert by %(field)s needs a column mapped to it.": "按 %(field)s 更新需要有一列对应到它。",
        "You may not change the record this row matches.": "你无权修改这一行匹配到的记录。",
        "You may not create %(entity)s records.": "你无权新建%(entity)s记录。",
        "This column is needed to find the record to update; it is empty.": "需要此列来查找要更新的记录，但它是空的。",

        # approvals branch (issue 18)
        'Moving to %(stage)s needs approval: %(steps)s.': '移入%(stage)s需要审批：%(steps)s。',
        'awaiting approval (step %(n)s of %(total)s: %(step)s)': '等待审批（第 %(n)s / %(total)s 步：%(step)s）',
        'approved': '已批准',
        'rejected': '已驳回',
        'withdrawn': '已撤回',
        'Moving to %(stage)s needs no approval.': '移入%(stage)s无需审批。',
        'This record is already awaiting approval.': '该记录已在等待审批。',
        'Wait for the decision, or withdraw the request first.': '请等待审批结果，或先撤回申请。',
        'Approval needed: %(title)s': '待审批：%(title)s',
        '%(title)s is waiting for your approval to move to %(stage)s (%(status)s).': '「%(title)s」等待您审批移入%(stage)s（%(status)s）。',
        'Say approve or reject.': '请选择批准或驳回。',
        'You may not approve your own request.': '不能审批自己发起的申请。',
        'This request is not waiting on you.': '该申请不在等待您的审批。',
        'Say why you reject the request.': '请填写驳回原因。',
        'The reason is shown on the record.': '原因会显示在记录上。',
        'This request was already decided.': '该申请已有结果。',
        'Only who asked may withdraw the request.': '只有申请人可以撤回申请。',
        'No decision in time: rejected automatically.': '超时未审批：已自动驳回。',
        'There is no such approval request.': '没有这条审批申请。',
        'Someone else decided this request meanwhile.': '其他人已处理了这条申请。',
        'Reload to see the decision.': '请刷新查看结果。',
        'Approval %(outcome)s: %(title)s': '审批%(outcome)s：%(title)s',
        'This record is awaiting approval: it cannot move meanwhile.': '该记录正在等待审批，期间不能移动阶段。',
        'Ask for approval: the record moves once it is granted.': '请发起审批：批准后记录会自动移入。',
        'This record is awaiting approval: it cannot be changed meanwhile.': '该记录正在等待审批，期间不能修改。',
        # -- designer (branch designer): the settings forms --
        "Choose one of the listed values.": "请从列出的值中选择一个。",
        "This is not valid JSON: %(error)s": "这不是有效的 JSON：%(error)s",
        "Every option needs a value (the stable code stored in records).": "每个选项都需要一个值（保存在记录中的固定代码）。",
        "Give the field a key: lower-case letters, digits and _, starting with a letter.":
            "请为字段填写键：由小写字母、数字和 _ 组成，以字母开头。",
        # -- registry2: gate requirement kinds' fixes --
        "Add %(entity)s": "新建%(entity)s",
        "See the related records": "查看关联记录",
        # collab (issue 17): comments and mentions
        'Write something before sending the comment.': '请先填写评论内容再发送。',
        'A comment can be at most %(max)s characters (this one has %(n)s).': '评论最多 %(max)s 个字符（当前 %(n)s 个）。',
        '%(name)s mentioned you on %(title)s': '%(name)s 在 %(title)s 中提到了你',
        'There is no such comment.': '没有这条评论。',
        'Only its author can change a comment, within %(minutes)s minutes of writing it.':
            '只有作者可以在发表后 %(minutes)s 分钟内修改或删除评论。',
        # collab (issue 17): saved views
        'Give the view a name.': '请为视图命名。',
        "A view's name can be at most %(max)s characters.": '视图名称最多 %(max)s 个字符。',
        'This list has too many filters to save as a view.': '此列表的筛选条件太多，无法保存为视图。',
        'Only an administrator of this app can share a view.': '只有本应用的管理员可以共享视图。',
        'There is no role %(role)s in this app.': '本应用中没有角色 %(role)s。',
        'There is no such view.': '没有这个视图。',
        'Only who saved a view, or an administrator, can delete it.': '只有视图的创建者或管理员可以删除它。',
    },
}


def normalize_language(lang: str | None) -> str:
    """"zh_CN", "zh-Hans" -> "zh"; None or "" -> "en"."""
    if not lang:
        return "en"
    return lang.replace("-", "_").split("_", 1)[0].lower()


def catalogue(lang: str | None) -> Mapping[str, str]:
    return CATALOGUES.get(normalize_language(lang), {})


def translate(lang: str | None, msgid: str, **params: Any) -> str:
    """`msgid` in `lang` (English when there is no translation), with `%(name)s` filled from params."""
    text = catalogue(lang).get(msgid, msgid)
    if not params:
        return text
    try:
        return text % params
    except (KeyError, ValueError, TypeError):   # a broken translation must not hide the message
        return msgid % params

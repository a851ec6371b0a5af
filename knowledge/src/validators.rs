//! Validators for form fields: 居民身份证号, 统一社会信用代码, mobile numbers, dates, amounts,
//! addresses, people's names and free text.
//!
//! Key design decision: every validator is a pure function from what the citizen typed to either
//! the *normalised* value (the one form that is stored and compared: half-width, uppercase,
//! separators removed) or an [`Invalid`] whose message is Simplified Chinese that says what is
//! wrong and what is expected, so that a form can show it as is. The only input that is not an
//! argument is today's date (China Standard Time), which [`id_number`] needs to refuse birth
//! dates in the future; the tests drive the same code with a fixed date.
//!
//! Every validator accepts full-width characters (`１２３`, `Ｘ`, `，`), since a Chinese input
//! method produces them as often as half-width ones.

use serde::{Deserialize, Serialize};

/// Which validator a form field uses; named in snake_case in form definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidatorKind {
    IdNumber,
    CreditCode,
    Mobile,
    Date,
    Amount,
    Address,
    /// A person's name (姓名, 法定代表人): see [`person_name`].
    PersonName,
    Text,
}

/// A value the citizen has to correct; `message` is shown to them as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub message: String,
}

impl Invalid {
    fn new(message: impl Into<String>) -> Invalid {
        Invalid {
            message: message.into(),
        }
    }
}

/// Checks `input` with the validator of `kind` and returns the normalised value.
pub fn validate(kind: ValidatorKind, input: &str) -> Result<String, Invalid> {
    match kind {
        ValidatorKind::IdNumber => id_number(input),
        ValidatorKind::CreditCode => credit_code(input),
        ValidatorKind::Mobile => mobile(input),
        ValidatorKind::Date => date(input),
        ValidatorKind::Amount => amount(input),
        ValidatorKind::Address => address(input),
        ValidatorKind::PersonName => person_name(input),
        ValidatorKind::Text => text(input),
    }
}

// ---------------------------------------------------------------------------------------------
// 居民身份证号 (GB 11643-1999)

/// ISO 7064 MOD 11-2 weights of the first 17 digits, i.e. 2^(17-i) mod 11.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum mod 11.
const ID_CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes of GB/T 2260 that can open a number of the GB 11643 form.
///
/// 71 is 台湾省 in GB/T 2260. 81, 82 and 83 are not GB/T 2260 provinces: they open the numbers
/// of 港澳台居民居住证 (810000 香港, 820000 澳门, 830000 台湾), which have the GB 11643 form and
/// which their holders use for the same services, so a form must accept them.
/// Only the province is checked: the full six-digit table changes every year, and a number keeps
/// the area code it was issued with long after the area was renamed or merged.
const PROVINCE_CODES: [u32; 35] = [
    11, 12, 13, 14, 15, // 华北
    21, 22, 23, // 东北
    31, 32, 33, 34, 35, 36, 37, // 华东
    41, 42, 43, 44, 45, 46, // 中南
    50, 51, 52, 53, 54, // 西南
    61, 62, 63, 64, 65, // 西北
    71, // 台湾省
    81, 82, 83, // 港澳台居民居住证
];

/// Birth dates before this year are refused: they are typing mistakes far more often than
/// citizens over 125.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// Sex as recorded in the 17th digit of an identity number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
}

/// 居民身份证号码: 18 characters, the last one a check character. Returns the number without
/// spaces, in half-width characters, with an uppercase `X`.
pub fn id_number(input: &str) -> Result<String, Invalid> {
    parse_id_number(input, today_in_china()).map(|id| id.number)
}

/// The birth date (year, month, day) recorded in a valid identity number; the types are the
/// ones `chrono::NaiveDate::from_ymd_opt` takes.
pub fn birth_date(id: &str) -> Result<(i32, u32, u32), Invalid> {
    let id = parse_id_number(id, today_in_china())?;
    Ok((id.birth.year, id.birth.month, id.birth.day))
}

/// The sex recorded in a valid identity number: an odd 17th digit is male.
pub fn gender(id: &str) -> Result<Gender, Invalid> {
    let id = parse_id_number(id, today_in_china())?;
    Ok(id.gender)
}

struct IdNumber {
    number: String,
    birth: Ymd,
    gender: Gender,
}

fn parse_id_number(input: &str, today: Ymd) -> Result<IdNumber, Invalid> {
    let number: String = to_half_width(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let chars: Vec<char> = number.chars().collect();
    if chars.is_empty() {
        return Err(Invalid::new("请填写身份证号码"));
    }
    if chars.len() == 15 && chars.iter().all(char::is_ascii_digit) {
        return Err(Invalid::new("这是 15 位的旧版身份证号码，请填写 18 位的新版身份证号码"));
    }
    if chars.len() != 18 {
        return Err(Invalid::new(format!(
            "身份证号码应为 18 位，您填写了 {} 位",
            chars.len()
        )));
    }
    for (i, c) in chars.iter().enumerate().take(17) {
        if !c.is_ascii_digit() {
            return Err(Invalid::new(format!(
                "身份证号码第 {} 位“{c}”有误：前 17 位只能是数字",
                i + 1
            )));
        }
    }
    let last = chars[17];
    if !(last.is_ascii_digit() || last == 'X') {
        return Err(Invalid::new(format!("身份证号码最后一位“{last}”有误：只能是数字或 X")));
    }
    // Only ASCII from here on, so byte slicing is safe.
    let province: u32 = number[0..2].parse().unwrap_or(0);
    if !PROVINCE_CODES.contains(&province) {
        return Err(Invalid::new(format!(
            "身份证号码前两位“{}”不是有效的省级行政区划代码，请核对",
            &number[0..2]
        )));
    }
    let digits = &number[6..14];
    let birth = Ymd::new(
        digits[0..4].parse().unwrap_or(0),
        digits[4..6].parse().unwrap_or(0),
        digits[6..8].parse().unwrap_or(0),
    )
    .ok_or_else(|| Invalid::new(format!("身份证号码第 7～14 位的出生日期“{digits}”不存在，请核对")))?;
    if birth.year < EARLIEST_BIRTH_YEAR {
        return Err(Invalid::new(format!(
            "身份证号码中的出生日期“{digits}”早于 {EARLIEST_BIRTH_YEAR} 年，请核对"
        )));
    }
    if birth > today {
        return Err(Invalid::new(format!(
            "身份证号码中的出生日期“{digits}”晚于今天，请核对"
        )));
    }
    if id_check_char(&number[0..17]) != last {
        return Err(Invalid::new(
            "身份证号码校验未通过，可能有数字填错或顺序颠倒，请对照证件逐位核对",
        ));
    }
    let gender = if (chars[16] as u32 - '0' as u32) % 2 == 1 {
        Gender::Male
    } else {
        Gender::Female
    };
    Ok(IdNumber { number, birth, gender })
}

/// Check character of the first 17 digits (ISO 7064 MOD 11-2). `body` must be 17 ASCII digits.
fn id_check_char(body: &str) -> char {
    let sum: u32 = body.bytes().zip(ID_WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

// ---------------------------------------------------------------------------------------------
// 统一社会信用代码 (GB 32100-2015)

/// The 31 characters of the code, in the order of their values 0..=30 (no I, O, S, V, Z).
const CREDIT_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters: 3^(i-1) mod 31, as GB 32100-2015 lists them.
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Registration authority (登记管理部门代码, 1st character) and the organisation categories
/// (机构类别代码, 2nd character) it may register.
///
/// GB 32100-2015 as first published lists 1 机构编制, 5 民政, 9 工商 and Y 其他; its amendment
/// No. 1 (2016) and later announcements of the code centre (CODS) added the others. The table
/// of the standard could not be read here, so this is the union of the tables of two
/// independent public implementations: wenerme/go-gb `gb32100/code.go` (authorities 1-9, A, N,
/// Y) and the credentialkit `OrgCategory` enum, which adds G, J, Q, 3-6, 5-4, 5-5 and 8-2 but
/// lacks 3-2 to 3-5. A category announced later needs one more character here; until then such
/// a code is refused, with a message that names the two characters.
const CREDIT_CATEGORIES: [(char, &str); 15] = [
    ('1', "1239"),    // 机构编制: 机关, 事业单位, 编办直接管理机构编制的群众团体, 其他
    ('2', "19"),      // 外交: 外国常驻新闻机构, 其他
    ('3', "1234569"), // 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 商事调解组织, 其他
    ('4', "19"),      // 文化: 外国在华文化中心, 其他
    ('5', "123459"),  // 民政: 社会团体, 民办非企业单位, 基金会, 村民委员会, 居民委员会, 其他
    ('6', "129"),     // 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻代表机构, 其他
    ('7', "129"),     // 宗教: 宗教活动场所, 宗教院校, 其他
    ('8', "129"),     // 工会: 基层工会, 非法人工会组织, 其他
    ('9', "1239"),    // 工商（市场监管）: 企业, 个体工商户, 农民专业合作社, 其他
    ('A', "19"),      // 中央军委改革和编制办公室: 军队事业单位, 其他
    ('G', "19"),      // 公安: 境外非政府组织代表机构, 其他
    ('J', "19"),      // 住房城乡建设: 业主大会, 其他
    ('N', "1239"),    // 农业农村: 组级、村级、乡镇级集体经济组织, 其他
    ('Q', "1239"),    // 侨联: 区县级、乡镇级、村级侨联组织, 其他
    ('Y', "1"),       // 其他
];

/// 统一社会信用代码: 18 digits and uppercase letters other than I, O, S, V, Z. Returns the code
/// without spaces, in half-width uppercase characters.
///
/// The subject identifier (characters 9-17) is a GB 11714 organisation code with a check
/// character of its own; it is not verified: the GB 32100 check character already covers those
/// positions, and a second check would only add ways to refuse a real code.
pub fn credit_code(input: &str) -> Result<String, Invalid> {
    let code: String = to_half_width(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let chars: Vec<char> = code.chars().collect();
    if chars.is_empty() {
        return Err(Invalid::new("请填写统一社会信用代码"));
    }
    if chars.len() != 18 {
        return Err(Invalid::new(format!(
            "统一社会信用代码应为 18 位，您填写了 {} 位",
            chars.len()
        )));
    }
    let mut values = [0u32; 18];
    for (i, &c) in chars.iter().enumerate() {
        let position = i + 1;
        let Some(value) = CREDIT_ALPHABET.find(c) else {
            let look_alike = match c {
                'I' => Some("数字 1"),
                'O' => Some("数字 0"),
                'Z' => Some("数字 2"),
                'S' => Some("数字 5"),
                'V' => Some("字母 U"),
                _ => None,
            };
            return Err(Invalid::new(match look_alike {
                Some(hint) => {
                    format!("统一社会信用代码不使用字母 I、O、Z、S、V，第 {position} 位的“{c}”请核对是否应为{hint}")
                }
                None => {
                    format!("统一社会信用代码第 {position} 位“{c}”有误：只能是数字或大写字母（不含 I、O、Z、S、V）")
                }
            }));
        };
        if (3..=8).contains(&position) && !c.is_ascii_digit() {
            return Err(Invalid::new(format!(
                "统一社会信用代码第 3～8 位是登记机关的行政区划代码，只能是数字，第 {position} 位“{c}”有误"
            )));
        }
        values[i] = value as u32;
    }
    let authority = chars[0];
    let Some((_, categories)) = CREDIT_CATEGORIES.iter().find(|(a, _)| *a == authority) else {
        return Err(Invalid::new(format!(
            "统一社会信用代码第 1 位“{authority}”不是有效的登记管理部门代码，请对照营业执照或登记证书核对"
        )));
    };
    if !categories.contains(chars[1]) {
        return Err(Invalid::new(format!(
            "统一社会信用代码前两位“{authority}{}”不是有效的登记管理部门和机构类别组合，请对照营业执照或登记证书核对",
            chars[1]
        )));
    }
    if credit_check_value(&values[..17]) != values[17] {
        return Err(Invalid::new(
            "统一社会信用代码校验未通过，可能有字符填错或顺序颠倒，请对照营业执照或登记证书逐位核对；如核对无误，请到窗口人工办理",
        ));
    }
    Ok(code)
}

/// Value of the check character for the values of the first 17 characters:
/// 31 - (Σ value × weight mod 31), where 31 stands for 0.
fn credit_check_value(values: &[u32]) -> u32 {
    let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    match 31 - sum % 31 {
        31 => 0,
        check => check,
    }
}

// ---------------------------------------------------------------------------------------------
// Mobile numbers

/// Mainland mobile number: 11 digits starting with 13-19, optionally after +86, 0086 or 86;
/// spaces and dashes are ignored. Returns the 11 digits.
pub fn mobile(input: &str) -> Result<String, Invalid> {
    let compact: String = to_half_width(input)
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '‐' | '–' | '—')))
        .collect();
    if compact.is_empty() {
        return Err(Invalid::new("请填写手机号码"));
    }
    let number = if let Some(rest) = compact.strip_prefix("+86") {
        rest
    } else if let Some(rest) = compact.strip_prefix("0086") {
        rest
    } else if compact.len() == 13
        && let Some(rest) = compact.strip_prefix("86")
    {
        rest
    } else {
        compact.as_str()
    };
    if let Some(c) = number.chars().find(|c| !c.is_ascii_digit()) {
        return Err(Invalid::new(format!("手机号码只能包含数字，“{c}”无效")));
    }
    if number.len() != 11 {
        return Err(Invalid::new(format!(
            "手机号码应为 11 位数字，您填写了 {} 位",
            number.len()
        )));
    }
    let bytes = number.as_bytes();
    if bytes[0] != b'1' || !(b'3'..=b'9').contains(&bytes[1]) {
        return Err(Invalid::new(
            "手机号码应以 13 至 19 开头，请检查是否误填了固定电话或其他号码",
        ));
    }
    Ok(number.to_string())
}

// ---------------------------------------------------------------------------------------------
// Dates

/// Years a date field accepts. Form dates are birth dates, appointment dates and validity ends;
/// a year outside this range is a typing mistake.
const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;

/// A calendar date in one of `2026-03-05`, `2026/3/5`, `2026.3.5`, `2026年3月5日` and
/// `20260305`. Returns `YYYY-MM-DD`.
pub fn date(input: &str) -> Result<String, Invalid> {
    let compact: String = to_half_width(input).chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(Invalid::new("请填写日期"));
    }
    let Some((year, month, day)) = split_date(&compact) else {
        return Err(Invalid::new(
            "日期格式无法识别，请按“2026-03-05”或“2026年3月5日”的格式填写",
        ));
    };
    let (Ok(year), Ok(month), Ok(day)) = (year.parse::<i32>(), month.parse::<u32>(), day.parse::<u32>()) else {
        return Err(Invalid::new(
            "日期格式无法识别，请按“2026-03-05”或“2026年3月5日”的格式填写",
        ));
    };
    if !DATE_YEARS.contains(&year) {
        return Err(Invalid::new(format!(
            "年份“{year}”超出范围，请填写 {} 至 {} 年之间的日期",
            DATE_YEARS.start(),
            DATE_YEARS.end()
        )));
    }
    if !(1..=12).contains(&month) {
        return Err(Invalid::new(format!("月份“{month}”有误，应在 1 至 12 之间")));
    }
    let Some(ymd) = Ymd::new(year, month, day) else {
        return Err(Invalid::new(format!(
            "日期不存在：{year} 年 {month} 月只有 {} 天，您填写了 {day} 日",
            days_in_month(year, month)
        )));
    };
    Ok(ymd.to_string())
}

/// Splits a compact date into its digit runs (year, month, day), or `None` when the shape is
/// none of the accepted ones.
fn split_date(compact: &str) -> Option<(&str, &str, &str)> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if compact.len() == 8 && all_digits(compact) {
        return Some((&compact[0..4], &compact[4..6], &compact[6..8]));
    }
    let (year, month, day) = if let Some(rest) = compact.strip_suffix('日').or_else(|| compact.strip_suffix('号')) {
        let (year, rest) = rest.split_once('年')?;
        let (month, day) = rest.split_once('月')?;
        (year, month, day)
    } else if let Some((year, rest)) = compact.split_once('年') {
        // 2026年3月5 without 日.
        let (month, day) = rest.split_once('月')?;
        (year, month, day)
    } else {
        let separator = compact.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
        let mut parts = compact.split(separator);
        let parts = (parts.next()?, parts.next()?, parts.next()?, parts.next());
        match parts {
            (year, month, day, None) => (year, month, day),
            _ => return None,
        }
    };
    let fits = |s: &str, max_len: usize| all_digits(s) && s.len() <= max_len;
    (year.len() == 4 && all_digits(year) && fits(month, 2) && fits(day, 2)).then_some((year, month, day))
}

// ---------------------------------------------------------------------------------------------
// Amounts

/// An input with more integer digits than this is a typing mistake (and would not fit).
const MAX_AMOUNT_INTEGER_DIGITS: usize = 15;

/// A non-negative amount of money: `1234`, `1,234.50`, `¥1234`, `1234元`, `1.2万`, `3万元`.
/// Returns 元 with exactly two decimals and no separators (`"12000.00"`), the form of a
/// fee or a subsidy in government systems; amounts finer than 分 are refused rather than rounded.
pub fn amount(input: &str) -> Result<String, Invalid> {
    let compact: String = to_half_width(input).chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(Invalid::new("请填写金额"));
    }
    let negative = |s: &str| s.starts_with('-') || s.starts_with('−');
    if negative(&compact) {
        return Err(Invalid::new("金额不能为负数"));
    }
    let mut rest = compact.as_str();
    for prefix in ["¥", "￥", "人民币"] {
        if let Some(stripped) = rest.strip_prefix(prefix) {
            rest = stripped;
            break;
        }
    }
    if negative(rest) {
        return Err(Invalid::new("金额不能为负数"));
    }
    // Decimals the number as written may have before it gets finer than 分: 2 for 元, 6 for 万.
    let (number, scale) = if let Some(number) = rest.strip_suffix("万元").or_else(|| rest.strip_suffix('万')) {
        (number, 6)
    } else {
        (rest.strip_suffix('元').unwrap_or(rest), 2)
    };
    let unrecognised = || Invalid::new("金额格式无法识别，请填写数字，如“1234.50”“1,234.50”或“1.2万”");
    let (integer, fraction) = match number.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (number, None),
    };
    let integer = ungroup_thousands(integer).ok_or_else(unrecognised)?;
    let fraction = match fraction {
        Some(fraction) if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) => fraction,
        Some(_) => return Err(unrecognised()),
        None => "",
    };
    if fraction.len() > scale {
        return Err(Invalid::new("金额最多精确到分（小数点后两位）"));
    }
    let integer = integer.trim_start_matches('0');
    if integer.len() > MAX_AMOUNT_INTEGER_DIGITS {
        return Err(Invalid::new("金额过大，请检查是否多填了数字"));
    }
    // At most 15 + 6 digits, far below u128::MAX; never empty, as the fraction is padded.
    let digits = format!("{integer}{fraction:0<scale$}");
    let fen: u128 = digits.parse().map_err(|_| unrecognised())?;
    Ok(format!("{}.{:02}", fen / 100, fen % 100))
}

/// The digits of an integer written plainly (`1234`) or with thousands separators
/// (`1,234`); `None` for anything else, including misplaced separators (`12,34`).
fn ungroup_thousands(integer: &str) -> Option<String> {
    let mut groups = integer.split(',');
    let first = groups.next()?;
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !is_digits(first) {
        return None;
    }
    let mut digits = first.to_string();
    let grouped = integer.contains(',');
    if grouped && first.len() > 3 {
        return None;
    }
    for group in groups {
        if group.len() != 3 || !is_digits(group) {
            return None;
        }
        digits.push_str(group);
    }
    Some(digits)
}

// ---------------------------------------------------------------------------------------------
// Addresses and text

const ADDRESS_CHARS: std::ops::RangeInclusive<usize> = 6..=100;
const TEXT_MAX_CHARS: usize = 200;

/// A postal address precise enough to find a door: it names a district or county (…区, …县,
/// a county-level …市, …旗) and a street part (路, 街, 道, 巷, 村, 号, 小区, 弄, 胡同, 大道).
/// Returns it without surrounding whitespace.
///
/// The check is a heuristic on marker characters, not a gazetteer: it catches the common
/// mistakes (only a street, only a district, a few characters) and lets real addresses through.
pub fn address(input: &str) -> Result<String, Invalid> {
    let address = input.trim();
    let n_chars = address.chars().count();
    if n_chars == 0 {
        return Err(Invalid::new("请填写地址"));
    }
    // The examples name no real district: the validator is the same in every city.
    let example = "某某区幸福路88号";
    if n_chars < *ADDRESS_CHARS.start() {
        return Err(Invalid::new(format!(
            "地址过短：请填写到区县、街道和门牌号，如“{example}”"
        )));
    }
    if n_chars > *ADDRESS_CHARS.end() {
        return Err(Invalid::new(format!(
            "地址过长：最多 {} 个字，您填写了 {n_chars} 个字",
            ADDRESS_CHARS.end()
        )));
    }
    if !has_district_part(address) {
        return Err(Invalid::new("地址缺少所在区县，请写明区县，如“某某区”“某某县”"));
    }
    if !has_street_part(address) {
        return Err(Invalid::new(
            "地址缺少街道或门牌号，请写明路、街、巷、村或小区及门牌号，如“幸福路88号”",
        ));
    }
    Ok(address.to_string())
}

/// Whether a name ending in 区, 县, 市 or 旗 appears, not counting the words where those
/// characters mean something else (小区, 社区, 市场, 超市) nor 示范市 itself, which is the city
/// and not one of its districts.
fn has_district_part(address: &str) -> bool {
    let chars: Vec<char> = address.chars().collect();
    (1..chars.len()).any(|i| {
        let previous = chars[i - 1];
        let next = chars.get(i + 1).copied();
        match chars[i] {
            '区' => !matches!(previous, '小' | '社'),
            '县' | '旗' => true,
            '市' => previous != '超' && next != Some('场') && !(i >= 2 && chars[i - 2] == '示' && previous == '范'),
            _ => false,
        }
    })
}

fn has_street_part(address: &str) -> bool {
    address.contains(['路', '街', '道', '巷', '村', '号', '弄']) || address.contains("小区") || address.contains("胡同")
}

/// Free text: not empty once trimmed, at most 200 characters. Returns it trimmed.
pub fn text(input: &str) -> Result<String, Invalid> {
    let text = input.trim();
    let n_chars = text.chars().count();
    if n_chars == 0 {
        return Err(Invalid::new("请填写此项"));
    }
    if n_chars > TEXT_MAX_CHARS {
        return Err(Invalid::new(format!(
            "内容过长：最多 {TEXT_MAX_CHARS} 个字，您填写了 {n_chars} 个字"
        )));
    }
    Ok(text.to_string())
}

// ---------------------------------------------------------------------------------------------
// 姓名

/// Words of a dialogue or a form's buttons: typed into a name box they are a slip, not a
/// name (“在线办理”, “确认提交”). Two characters of a name never spell them.
const NOT_NAME_WORDS: &[&str] = &[
    "办理",
    "提交",
    "确认",
    "取消",
    "跳过",
    "继续",
    "申请",
    "在线",
    "登录",
    "人工",
    "客服",
    "材料",
    "不知道",
    "不填",
    "算了",
    "没有",
    "好的",
    "可以",
    "返回",
    "修改",
    "填写",
    "姓名",
    "名字",
];
/// Characters of speech, not of names (我叫, 是吗, 的).
const NOT_NAME_CHARS: &str = "我你您的了吗呢吧么啊呀哦嗯什怎哪谁请";

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2A6DF}' | '〇')
}

/// A person's name as on an ID: 2–20 characters, Han characters with a middle dot between
/// the parts of a transliterated name (阿依古丽·买买提; other dots are folded to “·”), or a
/// Latin name (letters, spaces, hyphens, apostrophes, dots). Never a command of the
/// dialogue or a button's words.
pub fn person_name(input: &str) -> Result<String, Invalid> {
    let folded: String = to_half_width(input.trim())
        .chars()
        .map(|c| match c {
            '•' | '・' | '‧' | '∙' | '⋅' => '·',
            _ => c,
        })
        .collect();
    let name = folded.trim_end_matches(['。', '.', '!', '！', ',', '，']).trim();
    let n_chars = name.chars().count();
    if !(2..=20).contains(&n_chars) {
        return Err(Invalid::new("姓名应为 2 到 20 个字"));
    }
    let han = name.chars().all(|c| is_han(c) || c == '·')
        && !name.starts_with('·')
        && !name.ends_with('·')
        && !name.contains("··");
    let latin = name.chars().all(|c| c.is_ascii_alphabetic() || " -'.".contains(c))
        && name.chars().filter(char::is_ascii_alphabetic).count() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if !han && !latin {
        return Err(Invalid::new(
            "姓名只能是汉字（少数民族姓名可用间隔号“·”）或英文字母，请输入证件上的姓名",
        ));
    }
    if han && (name.chars().any(|c| NOT_NAME_CHARS.contains(c)) || NOT_NAME_WORDS.iter().any(|w| name.contains(w))) {
        return Err(Invalid::new("这看起来不是姓名，请输入证件上的姓名"));
    }
    Ok(if latin {
        name.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        name.to_string()
    })
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Full-width ASCII (U+FF01..U+FF5E) and the ideographic space to their half-width forms.
fn to_half_width(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// A proleptic Gregorian date; the field order makes the derived ordering chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ymd {
    year: i32,
    month: u32,
    day: u32,
}

impl Ymd {
    /// `None` when the date does not exist.
    fn new(year: i32, month: u32, day: u32) -> Option<Ymd> {
        let exists = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        exists.then_some(Ymd { year, month, day })
    }
}

impl std::fmt::Display for Ymd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Today in China Standard Time: a birth date is "in the future" by the citizen's calendar,
/// not the server's. (A validator has no clock of its own to be given; the date arithmetic is
/// `crate::time`'s.)
fn today_in_china() -> Ymd {
    china_date(chrono::Utc::now().timestamp_millis())
}

/// The date in China at unix milliseconds `millis`.
fn china_date(millis: i64) -> Ymd {
    use chrono::Datelike;
    let date = crate::time::today(millis);
    Ymd {
        year: date.year(),
        month: date.month(),
        day: date.day(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs `validate` and compares with `expected`: `Ok(normalised)`, or `Err(part)` where
    /// `part` must occur in the message.
    #[track_caller]
    fn check(kind: ValidatorKind, input: &str, expected: Result<&str, &str>) {
        let actual = validate(kind, input);
        match (&actual, expected) {
            (Ok(value), Ok(normalised)) => assert_eq!(value, normalised, "{kind:?} {input:?}"),
            (Err(invalid), Err(part)) => assert!(
                invalid.message.contains(part),
                "{kind:?} {input:?}: message {:?} lacks {part:?}",
                invalid.message
            ),
            _ => panic!("{kind:?} {input:?}: expected {expected:?}, got {actual:?}"),
        }
    }

    /// A fixed "today" so that the future-date tests do not depend on the clock.
    const TODAY: Ymd = Ymd {
        year: 2026,
        month: 3,
        day: 5,
    };

    #[track_caller]
    fn check_id(input: &str, expected: Result<&str, &str>) {
        let actual = parse_id_number(input, TODAY).map(|id| id.number);
        match (&actual, expected) {
            (Ok(value), Ok(normalised)) => assert_eq!(value, normalised, "{input:?}"),
            (Err(invalid), Err(part)) => {
                assert!(
                    invalid.message.contains(part),
                    "{input:?}: message {:?} lacks {part:?}",
                    invalid.message
                )
            }
            _ => panic!("{input:?}: expected {expected:?}, got {actual:?}"),
        }
    }

    // The check characters of the ID numbers below were computed with an independent script,
    // not with this module.

    #[test]
    fn id_number_accepts_and_normalises() {
        // The example number printed in GB 11643-1999 (北京市朝阳区, 1949-12-31, female).
        check_id("11010519491231002X", Ok("11010519491231002X"));
        check_id("11010519491231002x", Ok("11010519491231002X"));
        check_id("110105 19491231 002x", Ok("11010519491231002X"));
        check_id("１１０１０５１９４９１２３１００２Ｘ", Ok("11010519491231002X"));
        check_id("44030519900101123X", Ok("44030519900101123X"));
        // Leap day.
        check_id("310115200002290048", Ok("310115200002290048"));
        // 港澳台居民居住证.
        check_id("810000198005150022", Ok("810000198005150022"));
        check_id("830000200101010031", Ok("830000200101010031"));
    }

    #[test]
    fn id_number_rejects_with_the_reason() {
        check_id("", Err("请填写身份证号码"));
        check_id("   ", Err("请填写身份证号码"));
        check_id("110105491231002", Err("15 位的旧版"));
        check_id("11010519491231002", Err("应为 18 位，您填写了 17 位"));
        check_id("11010519491231002XX", Err("您填写了 19 位"));
        check_id("1101051949123100AX", Err("第 17 位“A”有误"));
        check_id("11010519491231002Y", Err("最后一位“Y”有误"));
        // Wrong check digit (X expected).
        check_id("110105194912310021", Err("校验未通过"));
        // Two adjacent digits swapped.
        check_id("11010519491231020X", Err("校验未通过"));
        // 1999-02-30 does not exist; check digit computed for the digits as written.
        check_id("110105199902300015", Err("出生日期“19990230”不存在"));
        // 2024-02-29 exists but is not in the future for TODAY; 2000-02-29 exists too.
        check_id("110105202402290011", Ok("110105202402290011"));
        // Province 99 does not exist.
        check_id("990105199001010014", Err("前两位“99”不是有效的省级行政区划代码"));
        check_id("530102199912315674", Ok("530102199912315674"));
    }

    #[test]
    fn id_number_rejects_birth_dates_in_the_future_and_before_1900() {
        // The second example of GB 11643-1999 (广东省汕头市潮阳县, 1880): its check digit is right,
        // but no living citizen was born in 1880, so a form refuses it.
        check_id("440524188001010014", Err("早于 1900 年"));
        let tomorrow = with_id_check_char("11010520260306001");
        check_id(&tomorrow, Err("晚于今天"));
        let today = with_id_check_char("11010520260305001");
        check_id(&today, Ok(&today));
    }

    #[test]
    fn id_number_uses_the_real_clock() {
        // A birth date far in the future is refused through the public function too.
        let far_future = with_id_check_char("11010520991231001");
        assert!(id_number(&far_future).unwrap_err().message.contains("晚于今天"));
        assert_eq!(id_number("11010519491231002x").unwrap(), "11010519491231002X");
    }

    #[test]
    fn birth_date_and_gender_of_an_id_number() {
        assert_eq!(birth_date("11010519491231002X"), Ok((1949, 12, 31)));
        assert_eq!(gender("11010519491231002X"), Ok(Gender::Female)); // 17th digit 2
        assert_eq!(birth_date("44030519900101123X"), Ok((1990, 1, 1)));
        assert_eq!(gender("44030519900101123X"), Ok(Gender::Male)); // 17th digit 3
        assert!(birth_date("110105194912310021").is_err());
        assert!(gender("110105194912310021").is_err());
    }

    /// Codes of real organisations, as published in public sources found with the search tool
    /// (stored copies of public repositories; the string index does not always name the
    /// repository, so some are described rather than named):
    /// - 914403001922038216 华为技术有限公司: a public test that calls it "公开信息", and seed data
    ///   of several unrelated repositories.
    /// - 91440300708461136T (腾讯, 深圳市腾讯计算机系统有限公司) and 91110000802100433B (百度,
    ///   北京百度网讯科技有限公司): the `ContentProducer` codes in the AIGC implicit labels (TC260
    ///   format) of their generated images, stored in public repositories; the second also as
    ///   `creditCode` with `orgNumber` 802100433 in a stored business-registry API response.
    /// - 91330100799655058B (阿里巴巴, 杭州) and 91110108551385082Q 小米科技有限责任公司: the same
    ///   company with the same code in several unrelated repositories.
    /// - 12100000400000624D 清华大学 (a 事业单位 registered centrally: authority 1, category 2,
    ///   area 100000) and 12440300455752807L (清华大学's Shenzhen campus): the invoice headers
    ///   (发票抬头) in the handbooks of Tsinghua laboratories.
    /// - 911100006000650192 北京吉野家快餐有限公司: the seller on an invoice text in a public test.
    /// - 91350100M000100Y43: the example of wenerme/go-gb `gb32100/code_test.go` and of
    ///   util-helpers.
    /// - 91350200MA2YJ1XR9G, 123502001549897397, 9135021359498494XQ: from a list of Xiamen codes
    ///   in 02020/vite `learn/utils/validateSocialCreditCode.js`.
    const PUBLISHED_CREDIT_CODES: [&str; 12] = [
        "914403001922038216",
        "91440300708461136T",
        "91110000802100433B",
        "91330100799655058B",
        "91110108551385082Q",
        "12100000400000624D",
        "12440300455752807L",
        "911100006000650192",
        "91350100M000100Y43",
        "91350200MA2YJ1XR9G",
        "123502001549897397",
        "9135021359498494XQ",
    ];

    #[test]
    fn credit_code_accepts_real_codes() {
        for code in PUBLISHED_CREDIT_CODES {
            check(ValidatorKind::CreditCode, code, Ok(code));
        }
    }

    #[test]
    fn credit_code_normalises_case_width_and_spaces() {
        check(
            ValidatorKind::CreditCode,
            "91440300708461136t",
            Ok("91440300708461136T"),
        );
        check(
            ValidatorKind::CreditCode,
            " 9144 0300 7084 6113 6T ",
            Ok("91440300708461136T"),
        );
        check(
            ValidatorKind::CreditCode,
            "９１４４０３００７０８４６１１３６Ｔ",
            Ok("91440300708461136T"),
        );
    }

    #[test]
    fn credit_code_rejects_with_the_reason() {
        check(ValidatorKind::CreditCode, "", Err("请填写统一社会信用代码"));
        check(
            ValidatorKind::CreditCode,
            "9144030070846113",
            Err("应为 18 位，您填写了 16 位"),
        );
        // Wrong check character (T expected).
        check(ValidatorKind::CreditCode, "91440300708461136U", Err("校验未通过"));
        // Two adjacent characters swapped.
        check(ValidatorKind::CreditCode, "91440300708461163T", Err("校验未通过"));
        // The letters the standard leaves out, each with the character it is mistaken for.
        check(
            ValidatorKind::CreditCode,
            "91350100MOOO100Y43",
            Err("第 10 位的“O”请核对是否应为数字 0"),
        );
        check(
            ValidatorKind::CreditCode,
            "9I440300708461136T",
            Err("第 2 位的“I”请核对是否应为数字 1"),
        );
        check(
            ValidatorKind::CreditCode,
            "91440300708461136Z",
            Err("第 18 位的“Z”请核对是否应为数字 2"),
        );
        check(
            ValidatorKind::CreditCode,
            "91440300708461136S",
            Err("“S”请核对是否应为数字 5"),
        );
        check(
            ValidatorKind::CreditCode,
            "91440300708461136V",
            Err("“V”请核对是否应为字母 U"),
        );
        check(ValidatorKind::CreditCode, "914403007084611-6T", Err("第 16 位“-”有误"));
        check(
            ValidatorKind::CreditCode,
            "9144A300708461136T",
            Err("第 3～8 位是登记机关的行政区划代码"),
        );
        // Authority B is not in the table; check character made right so the table decides.
        let unknown_authority = with_credit_check_char("B1440300708461136");
        check(
            ValidatorKind::CreditCode,
            &unknown_authority,
            Err("第 1 位“B”不是有效的登记管理部门代码"),
        );
        // 工商 registers categories 1, 2, 3 and 9 only.
        let bad_category = with_credit_check_char("94440300708461136");
        check(
            ValidatorKind::CreditCode,
            &bad_category,
            Err("前两位“94”不是有效的登记管理部门和机构类别组合"),
        );
        let other_authority = with_credit_check_char("Y2440300708461136");
        check(ValidatorKind::CreditCode, &other_authority, Err("前两位“Y2”"));
    }

    #[test]
    fn credit_code_check_character_31_stands_for_0() {
        // Find a body whose sum is a multiple of 31 and make sure its check character is '0'.
        let body = (0..31)
            .map(|last| format!("9144030070846113{}", CREDIT_ALPHABET.chars().nth(last).unwrap()))
            .find(|body| {
                let sum: u32 = body
                    .chars()
                    .zip(CREDIT_WEIGHTS)
                    .map(|(c, w)| CREDIT_ALPHABET.find(c).unwrap() as u32 * w)
                    .sum();
                sum.is_multiple_of(31)
            })
            .expect("weight 28 is invertible mod 31, so one last character gives sum ≡ 0");
        let code = format!("{body}0");
        check(ValidatorKind::CreditCode, &code, Ok(&code));
    }

    #[test]
    fn credit_code_refuses_fujian_codes_that_fail_their_own_check() {
        // FIXME: codes like these were issued in 福建 and are reported as real (segmentfault
        // q/1010000015163528; 02020/vite whitelists 91350203M0001QAY9B), yet fail the GB 32100
        // check. They are refused, and the message sends the citizen to a counter.
        for code in ["91350211M0000XUF46", "91350203M0001QAY9B"] {
            check(ValidatorKind::CreditCode, code, Err("如核对无误，请到窗口人工办理"));
        }
    }

    #[test]
    fn mobile_accepts_prefixes_and_separators() {
        check(ValidatorKind::Mobile, "13800138000", Ok("13800138000"));
        check(ValidatorKind::Mobile, "138 0013 8000", Ok("13800138000"));
        check(ValidatorKind::Mobile, "138-0013-8000", Ok("13800138000"));
        check(ValidatorKind::Mobile, "+86 138 0013 8000", Ok("13800138000"));
        check(ValidatorKind::Mobile, "+86-13800138000", Ok("13800138000"));
        check(ValidatorKind::Mobile, "8613800138000", Ok("13800138000"));
        check(ValidatorKind::Mobile, "008619912345678", Ok("19912345678"));
        check(ValidatorKind::Mobile, "１３８００１３８０００", Ok("13800138000"));
    }

    #[test]
    fn mobile_rejects_with_the_reason() {
        check(ValidatorKind::Mobile, "", Err("请填写手机号码"));
        check(
            ValidatorKind::Mobile,
            "1380013800",
            Err("应为 11 位数字，您填写了 10 位"),
        );
        check(ValidatorKind::Mobile, "138001380001", Err("您填写了 12 位"));
        check(ValidatorKind::Mobile, "12800138000", Err("应以 13 至 19 开头"));
        check(ValidatorKind::Mobile, "02088886666", Err("固定电话"));
        check(ValidatorKind::Mobile, "1380013800a", Err("“a”无效"));
        check(ValidatorKind::Mobile, "+1 415 555 0100", Err("“+”无效"));
        // 86 is a country code only in front of 11 more digits.
        check(ValidatorKind::Mobile, "86138001380", Err("应以 13 至 19 开头"));
    }

    #[test]
    fn date_accepts_the_usual_forms() {
        for input in [
            "2026-03-05",
            "2026/3/5",
            "2026.3.5",
            "2026年3月5日",
            "2026年3月5号",
            "2026年03月05日",
            "20260305",
        ] {
            check(ValidatorKind::Date, input, Ok("2026-03-05"));
        }
        check(ValidatorKind::Date, " 2026 年 3 月 5 日 ", Ok("2026-03-05"));
        check(ValidatorKind::Date, "２０２６－０３－０５", Ok("2026-03-05"));
        check(ValidatorKind::Date, "2024-02-29", Ok("2024-02-29"));
        check(ValidatorKind::Date, "2000-02-29", Ok("2000-02-29"));
    }

    #[test]
    fn date_rejects_with_the_reason() {
        check(ValidatorKind::Date, "", Err("请填写日期"));
        check(
            ValidatorKind::Date,
            "19990230",
            Err("1999 年 2 月只有 28 天，您填写了 30 日"),
        );
        check(ValidatorKind::Date, "2023-02-29", Err("2023 年 2 月只有 28 天"));
        check(ValidatorKind::Date, "1900-02-29", Err("1900 年 2 月只有 28 天"));
        check(ValidatorKind::Date, "2026-04-31", Err("4 月只有 30 天"));
        check(ValidatorKind::Date, "2026-13-01", Err("月份“13”有误"));
        check(ValidatorKind::Date, "2026-00-10", Err("月份“0”有误"));
        check(ValidatorKind::Date, "2026-03-00", Err("3 月只有 31 天，您填写了 0 日"));
        check(ValidatorKind::Date, "1850-01-01", Err("年份“1850”超出范围"));
        check(ValidatorKind::Date, "26-3-5", Err("日期格式无法识别"));
        check(ValidatorKind::Date, "2026-3-5-1", Err("日期格式无法识别"));
        check(ValidatorKind::Date, "2026-003-5", Err("日期格式无法识别"));
        check(ValidatorKind::Date, "三月五日", Err("日期格式无法识别"));
        check(ValidatorKind::Date, "2026030", Err("日期格式无法识别"));
    }

    #[test]
    fn amount_accepts_the_usual_forms() {
        check(ValidatorKind::Amount, "1234", Ok("1234.00"));
        check(ValidatorKind::Amount, "1,234.50", Ok("1234.50"));
        check(ValidatorKind::Amount, "1，234．5", Ok("1234.50"));
        check(ValidatorKind::Amount, "¥1234", Ok("1234.00"));
        check(ValidatorKind::Amount, "￥ 1234.5", Ok("1234.50"));
        check(ValidatorKind::Amount, "人民币1234元", Ok("1234.00"));
        check(ValidatorKind::Amount, "1234元", Ok("1234.00"));
        check(ValidatorKind::Amount, "1.2万", Ok("12000.00"));
        check(ValidatorKind::Amount, "3万元", Ok("30000.00"));
        check(ValidatorKind::Amount, "1.234567万", Ok("12345.67"));
        check(ValidatorKind::Amount, "1,234,567.89", Ok("1234567.89"));
        check(ValidatorKind::Amount, "0", Ok("0.00"));
        check(ValidatorKind::Amount, "007.1", Ok("7.10"));
    }

    #[test]
    fn amount_rejects_with_the_reason() {
        check(ValidatorKind::Amount, "", Err("请填写金额"));
        check(ValidatorKind::Amount, "-5", Err("不能为负数"));
        check(ValidatorKind::Amount, "¥-5", Err("不能为负数"));
        check(ValidatorKind::Amount, "－５", Err("不能为负数"));
        check(ValidatorKind::Amount, "abc", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "一千元", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "12,34", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "1234,567", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "12.", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, ".5", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "1.2.3", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "元", Err("金额格式无法识别"));
        check(ValidatorKind::Amount, "1.234", Err("最多精确到分"));
        check(ValidatorKind::Amount, "1.2345678万", Err("最多精确到分"));
        check(ValidatorKind::Amount, "1234567890123456", Err("金额过大"));
    }

    #[test]
    fn address_accepts_addresses_with_district_and_street() {
        check(ValidatorKind::Address, "  中山区幸福路88号  ", Ok("中山区幸福路88号"));
        check(
            ValidatorKind::Address,
            "示范市滨江区文化街12号3单元",
            Ok("示范市滨江区文化街12号3单元"),
        );
        check(ValidatorKind::Address, "东湖区阳光小区5栋", Ok("东湖区阳光小区5栋"));
        check(ValidatorKind::Address, "西岭县桃源村二组", Ok("西岭县桃源村二组"));
        check(
            ValidatorKind::Address,
            "北京市东城区东四十条胡同",
            Ok("北京市东城区东四十条胡同"),
        );
        check(
            ValidatorKind::Address,
            "浙江省义乌市稠城街道",
            Ok("浙江省义乌市稠城街道"),
        );
        check(
            ValidatorKind::Address,
            "内蒙古鄂托克旗乌兰镇建设路1号",
            Ok("内蒙古鄂托克旗乌兰镇建设路1号"),
        );
        for district in ["中山区", "滨江区", "东湖区", "西岭县"] {
            let address = format!("{district}和平路1号");
            check(ValidatorKind::Address, &address, Ok(&address));
        }
    }

    #[test]
    fn address_rejects_with_the_reason() {
        check(ValidatorKind::Address, "  ", Err("请填写地址"));
        check(ValidatorKind::Address, "中山区1号", Err("地址过短"));
        check(
            ValidatorKind::Address,
            &"中山区幸福路88号".repeat(12),
            Err("地址过长：最多 100 个字，您填写了 108 个字"),
        );
        // The city itself is not a district.
        check(ValidatorKind::Address, "示范市幸福路88号", Err("缺少所在区县"));
        // 小区, 社区 and 市场 are not districts either.
        check(ValidatorKind::Address, "阳光小区5栋2单元", Err("缺少所在区县"));
        check(ValidatorKind::Address, "幸福社区农贸市场3号", Err("缺少所在区县"));
        check(ValidatorKind::Address, "示范市中山区人民政府", Err("缺少街道或门牌号"));
    }

    #[test]
    fn text_trims_and_limits_length() {
        check(ValidatorKind::Text, "  申请补办  ", Ok("申请补办"));
        check(ValidatorKind::Text, &"字".repeat(200), Ok(&"字".repeat(200)));
        check(
            ValidatorKind::Text,
            &"字".repeat(201),
            Err("最多 200 个字，您填写了 201 个字"),
        );
        check(ValidatorKind::Text, " \t\n", Err("请填写此项"));
    }

    #[test]
    fn name_field_refuses_commands() {
        let name = ValidatorKind::PersonName;
        check(name, "张三", Ok("张三"));
        check(name, " 欧阳娜娜 ", Ok("欧阳娜娜"));
        check(name, "阿依古丽•买买提", Ok("阿依古丽·买买提"));
        check(name, "John  Smith", Ok("John Smith"));
        check(name, "Mary-Jane O'Neil", Ok("Mary-Jane O'Neil"));
        for command in ["在线办理", "确认提交", "取消", "跳过", "继续办理", "我不知道", "好的"] {
            check(name, command, Err("不是姓名"));
        }
        check(name, "李", Err("2 到 20 个字"));
        check(name, &"张".repeat(21), Err("2 到 20 个字"));
        check(name, "张三13912345678", Err("只能是汉字"));
        check(name, "·张三", Err("只能是汉字"));
        check(name, "张三·", Err("只能是汉字"));
    }

    #[test]
    fn invalid_displays_its_message() {
        let invalid = mobile("123").unwrap_err();
        assert_eq!(invalid.to_string(), invalid.message);
        let _: &dyn std::error::Error = &invalid;
    }

    #[test]
    fn validator_kind_is_named_in_snake_case() {
        #[derive(Debug, Serialize, Deserialize, PartialEq)]
        struct Field {
            kind: ValidatorKind,
        }
        let names = [
            (ValidatorKind::IdNumber, "id_number"),
            (ValidatorKind::CreditCode, "credit_code"),
            (ValidatorKind::Mobile, "mobile"),
            (ValidatorKind::Date, "date"),
            (ValidatorKind::Amount, "amount"),
            (ValidatorKind::Address, "address"),
            (ValidatorKind::Text, "text"),
        ];
        for (kind, name) in names {
            let written = toml::to_string(&Field { kind }).unwrap();
            assert_eq!(written.trim(), format!("kind = \"{name}\""));
            assert_eq!(toml::from_str::<Field>(&written).unwrap(), Field { kind });
        }
        assert!(toml::from_str::<Field>("kind = \"IdNumber\"").is_err());
    }

    #[test]
    fn china_dates_turn_at_beijing_midnight() {
        // 2026-03-04T16:00:00Z is midnight in Beijing: the citizen's day has already turned.
        assert_eq!(
            china_date(1_772_640_000_000 - 1),
            Ymd {
                year: 2026,
                month: 3,
                day: 4
            }
        );
        assert_eq!(
            china_date(1_772_640_000_000),
            Ymd {
                year: 2026,
                month: 3,
                day: 5
            }
        );
        let today = today_in_china();
        assert!(today.year >= 2025 && Ymd::new(today.year, today.month, today.day).is_some());
    }

    // ---- helpers independent of the code under test, for building valid numbers ----

    /// ISO 7064 MOD 11-2 written from its definition (weights 2^(17-i) mod 11), not from the
    /// tables above.
    fn with_id_check_char(body: &str) -> String {
        let sum: u32 = body
            .chars()
            .enumerate()
            .map(|(i, c)| c.to_digit(10).unwrap() * (1 << (17 - i)) % 11)
            .sum();
        let check = (12 - sum % 11) % 11;
        let check = if check == 10 {
            'X'
        } else {
            char::from_digit(check, 10).unwrap()
        };
        format!("{body}{check}")
    }

    /// GB 32100 check character written from its definition (weights 3^i mod 31).
    fn with_credit_check_char(body: &str) -> String {
        let alphabet: Vec<char> = CREDIT_ALPHABET.chars().collect();
        let mut weight = 1;
        let mut sum = 0;
        for c in body.chars() {
            sum += alphabet.iter().position(|&a| a == c).unwrap() as u32 * weight;
            weight = weight * 3 % 31;
        }
        format!("{body}{}", alphabet[((31 - sum % 31) % 31) as usize])
    }

    #[test]
    fn reference_helpers_agree_with_published_vectors() {
        assert_eq!(with_id_check_char("11010519491231002"), "11010519491231002X");
        assert_eq!(with_id_check_char("44052418800101001"), "440524188001010014");
        for code in PUBLISHED_CREDIT_CODES {
            assert_eq!(with_credit_check_char(&code[..17]), code);
        }
    }

    fn valid_id() -> impl Strategy<Value = (String, Ymd)> {
        (
            proptest::sample::select(PROVINCE_CODES.to_vec()),
            0u32..10_000,
            1900i32..=2025,
            1u32..=12,
            1u32..=31,
            0u32..1000,
        )
            .prop_map(|(province, area, year, month, day, sequence)| {
                let day = day.min(days_in_month(year, month));
                let body = format!("{province:02}{area:04}{year:04}{month:02}{day:02}{sequence:03}");
                (with_id_check_char(&body), Ymd { year, month, day })
            })
    }

    fn valid_credit_code() -> impl Strategy<Value = String> {
        let alphabet: Vec<char> = CREDIT_ALPHABET.chars().collect();
        (
            proptest::sample::select(CREDIT_CATEGORIES.to_vec()),
            any::<proptest::sample::Index>(),
            0u32..1_000_000,
            proptest::collection::vec(proptest::sample::select(alphabet), 9),
        )
            .prop_map(|((authority, categories), category, area, subject)| {
                let category = categories.chars().nth(category.index(categories.len())).unwrap();
                let subject: String = subject.into_iter().collect();
                with_credit_check_char(&format!("{authority}{category}{area:06}{subject}"))
            })
    }

    proptest! {
        #[test]
        fn generated_id_numbers_are_accepted_and_round_trip((id, birth) in valid_id()) {
            let parsed = parse_id_number(&id, TODAY).unwrap();
            prop_assert_eq!(&parsed.number, &id);
            prop_assert_eq!(parsed.birth, birth);
            let odd = id.as_bytes()[16] % 2 == 1;
            prop_assert_eq!(parsed.gender, if odd { Gender::Male } else { Gender::Female });
            let spaced_lowercase = format!(" {} {} ", &id[..6], id[6..].to_lowercase());
            prop_assert_eq!(parse_id_number(&spaced_lowercase, TODAY).unwrap().number, id);
        }

        #[test]
        fn changing_one_character_of_an_id_number_is_rejected(
            (id, _) in valid_id(),
            position in 0usize..18,
            shift in 1usize..11,
        ) {
            // Shifting by 1..=10 within the 11 characters never gives back the same one.
            let characters: Vec<char> = "0123456789X".chars().collect();
            let mut chars: Vec<char> = id.chars().collect();
            let original = characters.iter().position(|&c| c == chars[position]).unwrap();
            chars[position] = characters[(original + shift) % characters.len()];
            let changed: String = chars.into_iter().collect();
            prop_assert!(parse_id_number(&changed, TODAY).is_err(), "{} accepted", changed);
        }

        #[test]
        fn generated_credit_codes_are_accepted_and_round_trip(code in valid_credit_code()) {
            prop_assert_eq!(credit_code(&code), Ok(code.clone()));
            prop_assert_eq!(credit_code(&format!(" {} ", code.to_lowercase())), Ok(code));
        }

        #[test]
        fn changing_one_character_of_a_credit_code_is_rejected(
            code in valid_credit_code(),
            position in 0usize..18,
            shift in 1usize..31,
        ) {
            // Shifting by 1..=30 within the 31 characters never gives back the same one.
            let characters: Vec<char> = CREDIT_ALPHABET.chars().collect();
            let mut chars: Vec<char> = code.chars().collect();
            let original = characters.iter().position(|&c| c == chars[position]).unwrap();
            chars[position] = characters[(original + shift) % characters.len()];
            let changed: String = chars.into_iter().collect();
            prop_assert!(credit_code(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn mobile_normalisation_is_idempotent(
            second in proptest::sample::select(vec!['3', '4', '5', '6', '7', '8', '9']),
            rest in "[0-9]{9}",
            prefix in proptest::sample::select(vec!["", "+86", "+86 ", "86", "0086", "0086-"]),
            separator in proptest::sample::select(vec!["", " ", "-"]),
        ) {
            let number = format!("1{second}{rest}");
            let typed = format!("{prefix}{}{separator}{}{separator}{}", &number[..3], &number[3..7], &number[7..]);
            let normalised = mobile(&typed).unwrap();
            prop_assert_eq!(&normalised, &number);
            prop_assert_eq!(mobile(&normalised), Ok(normalised));
        }

        #[test]
        fn date_normalisation_is_idempotent(
            year in 1900i32..=2100,
            month in 1u32..=12,
            day in 1u32..=31,
            form in 0usize..5,
        ) {
            let day = day.min(days_in_month(year, month));
            let typed = match form {
                0 => format!("{year}-{month:02}-{day:02}"),
                1 => format!("{year}/{month}/{day}"),
                2 => format!("{year}.{month}.{day}"),
                3 => format!("{year}年{month}月{day}日"),
                _ => format!("{year}{month:02}{day:02}"),
            };
            let normalised = date(&typed).unwrap();
            prop_assert_eq!(&normalised, &format!("{year:04}-{month:02}-{day:02}"));
            prop_assert_eq!(date(&normalised), Ok(normalised));
        }

        #[test]
        fn whatever_validates_normalises_to_itself(input in "[0-9０-９+ \\-/.年月日号万元¥,]{0,20}") {
            for kind in [ValidatorKind::Mobile, ValidatorKind::Date, ValidatorKind::Amount] {
                if let Ok(normalised) = validate(kind, &input) {
                    prop_assert_eq!(validate(kind, &normalised), Ok(normalised));
                }
            }
        }

        #[test]
        fn validate_never_panics(input in "\\PC*") {
            for kind in [
                ValidatorKind::IdNumber,
                ValidatorKind::CreditCode,
                ValidatorKind::Mobile,
                ValidatorKind::Date,
                ValidatorKind::Amount,
                ValidatorKind::Address,
                ValidatorKind::Text,
            ] {
                let _ = validate(kind, &input);
            }
        }

        /// Inputs close to valid ones reach the deeper branches that arbitrary text does not.
        #[test]
        fn validate_never_panics_on_near_misses(input in "[0-9A-Zxa-z０-９Ｘ \\-]{15,20}") {
            for kind in [ValidatorKind::IdNumber, ValidatorKind::CreditCode, ValidatorKind::Mobile] {
                let _ = validate(kind, &input);
            }
        }
    }
}

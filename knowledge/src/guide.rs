//! The schema of one service guide and of the directory files.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    #[serde(rename = "个人")]
    Person,
    #[serde(rename = "法人")]
    Company,
}

impl Audience {
    pub fn label(self) -> &'static str {
        match self {
            Audience::Person => "个人",
            Audience::Company => "法人",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuideKind {
    Service,
    Bundle,
    CombinedLicense,
}

impl GuideKind {
    pub fn label(self) -> &'static str {
        match self {
            GuideKind::Service => "单项服务",
            GuideKind::Bundle => "“一件事”联办",
            GuideKind::CombinedLicense => "“一业一证”综合许可",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guide {
    pub id: String,
    pub title: String,
    pub summary: String,
    /// An English summary for English questions; official Chinese terms kept in brackets.
    #[serde(default)]
    pub summary_en: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub audience: Audience,
    pub department: String,
    pub kind: GuideKind,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub cross_province: bool,
    #[serde(default)]
    pub legal_basis: Vec<String>,
    #[serde(default)]
    pub conditions: Vec<String>,
    #[serde(default)]
    pub steps: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    /// Date the guide was last reviewed, `YYYY-MM-DD`.
    #[serde(deserialize_with = "date_string")]
    pub reviewed: String,
    pub time_limit: TimeLimit,
    #[serde(default)]
    pub materials: Vec<Material>,
    #[serde(default)]
    pub fees: Vec<Fee>,
    pub channels: Channels,
    #[serde(default)]
    pub faq: Vec<Faq>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeLimit {
    /// Legal limit in working days (法定办结时限).
    pub legal_days: u32,
    /// Promised limit in working days (承诺办结时限); 0 means 即办.
    pub promised_days: u32,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub name: String,
    /// 原件, 复印件, 原件及复印件 or 电子文件.
    pub form: String,
    pub count: u32,
    /// The e-licence type that can be fetched instead (免于提交).
    #[serde(default)]
    pub e_license: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub item: String,
    pub amount: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default)]
    pub online: Vec<OnlineEntry>,
    #[serde(default)]
    pub halls: Vec<Hall>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineEntry {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hall {
    pub name: String,
    pub address: String,
    pub hours: String,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faq {
    pub q: String,
    pub a: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub hotline: String,
    pub hours: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ELicenseType {
    pub id: String,
    pub name: String,
    pub issuer: String,
}

impl Guide {
    /// Whether every fee is "免费" (or there is none).
    pub fn is_free(&self) -> bool {
        self.fees
            .iter()
            .all(|fee| fee.amount.contains("免费") || fee.amount.trim() == "0元")
    }

    /// All the searchable prose of the guide (conditions, materials, steps, FAQ answers …).
    pub fn body_text(&self) -> String {
        let mut parts: Vec<&str> = vec![&self.summary];
        parts.extend(self.conditions.iter().map(String::as_str));
        parts.extend(self.materials.iter().map(|m| m.name.as_str()));
        parts.extend(self.steps.iter().map(String::as_str));
        parts.extend(self.legal_basis.iter().map(String::as_str));
        parts.extend(self.fees.iter().map(|f| f.item.as_str()));
        parts.extend(self.faq.iter().map(|f| f.a.as_str()));
        parts.join("\n")
    }
}

/// TOML dates arrive as `toml::value::Datetime`; a plain string is accepted too.
pub(crate) fn date_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum DateOrString {
        Date(toml::value::Datetime),
        Text(String),
    }
    let text = match DateOrString::deserialize(deserializer)? {
        DateOrString::Date(datetime) => datetime.to_string(),
        DateOrString::Text(text) => text,
    };
    let valid = text.len() == 10
        && text
            .char_indices()
            .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if !valid {
        return Err(serde::de::Error::custom(format!(
            "reviewed must be a date YYYY-MM-DD, got {text:?}"
        )));
    }
    Ok(text)
}

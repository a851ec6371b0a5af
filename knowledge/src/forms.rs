//! Application forms: the fields a service asks for, how each is checked, and which
//! e-licence field can fill it in (so the citizen types only what the government does not
//! already know). One TOML file per service in `forms/`; a bundle's form is the union of its
//! members' forms, each field asked once.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::validators::{Invalid, ValidatorKind, validate};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// The guide this form applies for.
    pub service_id: String,
    #[serde(rename = "field")]
    pub fields: Vec<Field>,
    /// Materials the applicant provides as files (the rest are generated online or fetched
    /// from e-licences, 免于提交). Each names one of the guide's `[[materials]]`.
    #[serde(rename = "upload", default)]
    pub uploads: Vec<Upload>,
}

/// A material collected in the dialogue as an attachment (`POST /api/v1/uploads`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// The material's name, exactly as in the guide's `[[materials]]`.
    pub material: String,
    /// Whether the application cannot be submitted without it (conditional materials, such
    /// as a power of attorney when someone else applies, are `false`).
    #[serde(default = "yes")]
    pub required: bool,
    /// What to photograph or scan, shown when it is asked for.
    #[serde(default)]
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Stable name, shared across forms for the same datum (`mobile`, `id_number` …).
    pub name: String,
    pub label: String,
    #[serde(default = "default_kind")]
    pub kind: ValidatorKind,
    #[serde(default = "yes")]
    pub required: bool,
    /// For a choice: the accepted values.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub help: Option<String>,
    /// `e-licence type.field` that fills it in, e.g. `id_card.number`.
    #[serde(default)]
    pub prefill: Option<String>,
}

fn default_kind() -> ValidatorKind {
    ValidatorKind::Text
}

fn yes() -> bool {
    true
}

impl Field {
    /// Checks and normalises a value typed for this field.
    pub fn check(&self, input: &str) -> Result<String, Invalid> {
        if !self.options.is_empty() {
            let input = input.trim();
            return self
                .options
                .iter()
                .find(|option| input == option.as_str() || input.contains(option.as_str()))
                .cloned()
                .ok_or_else(|| Invalid {
                    message: format!("请从以下选项中选择：{}", self.options.join("、")),
                });
        }
        validate(self.kind, input)
    }

    /// The e-licence type and field of `prefill`.
    pub fn prefill_source(&self) -> Option<(&str, &str)> {
        self.prefill.as_deref().and_then(|p| p.split_once('.'))
    }
}

/// Merges member forms into one (first occurrence of a field name or upload wins), for
/// bundles.
pub fn merge(service_id: &str, forms: &[&Form]) -> Form {
    let mut fields: Vec<Field> = Vec::new();
    let mut uploads: Vec<Upload> = Vec::new();
    for form in forms {
        for field in &form.fields {
            if !fields.iter().any(|f| f.name == field.name) {
                fields.push(field.clone());
            }
        }
        for upload in &form.uploads {
            if !uploads.iter().any(|u| u.material == upload.material) {
                uploads.push(upload.clone());
            }
        }
    }
    Form {
        service_id: service_id.to_string(),
        fields,
        uploads,
    }
}

pub(crate) type Forms = HashMap<String, Form>;

//! Loading and validating the whole knowledge folder.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::guide::{Department, ELicenseType, Guide, GuideKind};
use crate::lexicon::{Lexicon, Term};
use crate::{Error, Result};

pub(crate) const MATERIAL_FORMS: [&str; 4] = ["原件", "复印件", "原件及复印件", "电子文件"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in one file, printed as `path:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "警告",
            Severity::Error => "错误",
        };
        write!(f, "{}:{}: {}：{}", self.path.display(), self.line, level, self.message)
    }
}

/// The loaded knowledge base. Guides are shared (`Arc`) because the index and the dialogue
/// both hold them.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub guides: Vec<Arc<Guide>>,
    pub departments: Vec<Department>,
    pub e_licenses: Vec<ELicenseType>,
    pub lexicon: Lexicon,
    by_id: HashMap<String, usize>,
    /// Application forms by service id (`forms/*.toml`).
    forms: crate::forms::Forms,
    /// Working days (`calendar.toml`).
    pub calendar: crate::Calendar,
    /// 12345 routing and time limits (`tickets.toml`).
    pub tickets: crate::TicketRules,
    /// Labelled examples for the ticket router (`ticket_examples.toml`): (category, text).
    pub ticket_examples: Vec<crate::tickets::Example>,
    /// Labelled examples for the intent head (`intents.toml`): (intent, text).
    pub intent_examples: Vec<crate::tickets::Example>,
    /// The words answers are read with (`phrases.toml`; the built-in lists when absent).
    pub phrases: crate::Phrases,
    /// Halls whose windows take appointments (`halls.toml`).
    pub halls: Vec<crate::services::Hall>,
    /// 服务找人 rules (`reminders.toml`).
    pub reminders: Vec<crate::services::ReminderRule>,
    /// Hash of every file's name and content: a changed file changes it.
    pub fingerprint: u64,
}

/// A corpus plus what was wrong with the files that were skipped or are suspicious.
#[derive(Debug)]
pub struct LoadOutcome {
    pub corpus: Corpus,
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadOutcome {
    pub fn n_errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Ids (file stems) of the guide files that had errors and were left out.
    pub fn failed_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error && d.path.parent().is_some_and(|p| p.ends_with("guides")))
            .filter_map(|d| d.path.file_stem().and_then(|s| s.to_str()).map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// On a reload: a guide whose file is now broken keeps its last good version, so an
    /// editing mistake never makes a guide disappear from service.
    pub fn keep_last_good(&mut self, previous: &Corpus) -> Vec<String> {
        let mut kept = Vec::new();
        for id in self.failed_ids() {
            if self.corpus.guide(&id).is_none()
                && let Some(old) = previous.guide(&id)
            {
                self.corpus.guides.push(old.clone());
                kept.push(id);
            }
        }
        self.corpus.reindex();
        kept
    }

    /// Strict mode: any error refuses the whole corpus.
    pub fn into_strict(self) -> Result<Corpus> {
        if self.n_errors() > 0 {
            return Err(Error::Invalid(
                self.diagnostics
                    .into_iter()
                    .filter(|d| d.severity == Severity::Error)
                    .collect(),
            ));
        }
        Ok(self.corpus)
    }
}

/// The sample corpus shipped in this crate. Operators point `--knowledge-dir` elsewhere.
pub fn default_data_dir() -> PathBuf {
    let local = PathBuf::from("knowledge/data");
    if local.join("guides").is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

/// Fingerprint of the folder's files (names, sizes, modification times), cheap enough to poll.
pub fn fingerprint(dir: &Path) -> Result<u64> {
    let mut hasher = DefaultHasher::new();
    for path in data_files(dir)?.into_iter().chain(optional_files(dir)) {
        let metadata = std::fs::metadata(&path).map_err(|source| io_error(&path, source))?;
        path.hash(&mut hasher);
        metadata.len().hash(&mut hasher);
        if let Ok(modified) = metadata.modified() {
            modified.hash(&mut hasher);
        }
    }
    Ok(hasher.finish())
}

fn data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = ["lexicon.toml", "departments.toml", "e_licenses.toml"]
        .iter()
        .map(|name| dir.join(name))
        .collect();
    let guides_dir = dir.join("guides");
    let entries = std::fs::read_dir(&guides_dir).map_err(|source| io_error(&guides_dir, source))?;
    let mut guides: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    guides.sort();
    files.extend(guides);
    Ok(files)
}

/// `forms/*.toml` and `calendar.toml`, which are optional.
fn optional_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("forms"))
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for name in [
        "calendar.toml",
        "tickets.toml",
        "ticket_examples.toml",
        "intents.toml",
        "phrases.toml",
        "halls.toml",
        "reminders.toml",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            files.push(path);
        }
    }
    files
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Corpus {
    /// Loads the folder: `guides/*.toml`, `lexicon.toml`, `departments.toml`,
    /// `e_licenses.toml`. Directory files must be valid (every guide depends on them); a bad
    /// guide is left out and reported in the outcome.
    pub fn load(dir: &Path) -> Result<LoadOutcome> {
        let mut diagnostics = Vec::new();
        let mut hasher = DefaultHasher::new();

        let departments: Vec<Department> = load_list(&dir.join("departments.toml"), "department", &mut hasher)?;
        let e_licenses: Vec<ELicenseType> = load_list(&dir.join("e_licenses.toml"), "type", &mut hasher)?;
        let terms: Vec<Term> = load_list(&dir.join("lexicon.toml"), "term", &mut hasher)?;

        let mut parsed: Vec<(PathBuf, String, Guide)> = Vec::new();
        for path in data_files(dir)?.into_iter().skip(3) {
            let source = std::fs::read(&path).map_err(|source| io_error(&path, source))?;
            path.file_name().hash(&mut hasher);
            source.hash(&mut hasher);
            let text = match String::from_utf8(source) {
                Ok(text) => text,
                Err(err) => {
                    let line = line_of_offset(&err.as_bytes()[..err.utf8_error().valid_up_to()]);
                    diagnostics.push(error(&path, line, "文件不是有效的 UTF-8 编码".into()));
                    continue;
                }
            };
            match toml::from_str::<Guide>(&text) {
                Ok(guide) => parsed.push((path, text, guide)),
                Err(err) => {
                    let line = err
                        .span()
                        .map(|s| line_of_offset(&text.as_bytes()[..s.start]))
                        .unwrap_or(1);
                    diagnostics.push(error(&path, line, format!("格式错误：{}", err.message())));
                }
            }
        }

        let department_ids: HashSet<&str> = departments.iter().map(|d| d.id.as_str()).collect();
        let e_license_ids: HashSet<&str> = e_licenses.iter().map(|e| e.id.as_str()).collect();
        let all_ids: HashSet<&str> = parsed.iter().map(|(_, _, g)| g.id.as_str()).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut guides = Vec::new();
        for (path, text, guide) in &parsed {
            let mut problems = Vec::new();
            check_guide(
                guide,
                path,
                text,
                &department_ids,
                &e_license_ids,
                &all_ids,
                &mut problems,
            );
            if !seen.insert(guide.id.clone()) {
                problems.push(error(
                    path,
                    find_line(text, "id ="),
                    format!("id “{}” 与另一份指南重复", guide.id),
                ));
            }
            let failed = problems.iter().any(|d| d.severity == Severity::Error);
            diagnostics.extend(problems);
            if !failed {
                guides.push(Arc::new(guide.clone()));
            }
        }
        let calendar = load_calendar(dir, &mut hasher, &mut diagnostics);
        let (halls, reminders) = load_service_desk(dir, &all_ids, &e_license_ids, &mut hasher, &mut diagnostics);
        let tickets = load_ticket_rules(dir, &department_ids, &mut hasher, &mut diagnostics);
        let examples = |name: &str, key: &str, diagnostics: &mut Vec<Diagnostic>| {
            let path = dir.join(name);
            if !path.is_file() {
                return Vec::new();
            }
            crate::tickets::load_examples(&path, key).unwrap_or_else(|err| {
                if let Error::Invalid(found) = err {
                    diagnostics.extend(found);
                }
                Vec::new()
            })
        };
        let ticket_examples = examples("ticket_examples.toml", "category", &mut diagnostics);
        let intent_examples = examples("intents.toml", "intent", &mut diagnostics);
        // A bundle's form may ask for its members' materials too.
        let own: HashMap<&str, Vec<&str>> = parsed
            .iter()
            .map(|(_, _, g)| (g.id.as_str(), g.materials.iter().map(|m| m.name.as_str()).collect()))
            .collect();
        let materials: HashMap<&str, Vec<&str>> = parsed
            .iter()
            .map(|(_, _, g)| {
                let mut names = own.get(g.id.as_str()).cloned().unwrap_or_default();
                for member in &g.members {
                    names.extend(own.get(member.as_str()).into_iter().flatten());
                }
                (g.id.as_str(), names)
            })
            .collect();
        let forms = load_forms(dir, &materials, &e_license_ids, &mut hasher, &mut diagnostics);
        // 一网通办: a guide that offers online handling should be applicable in the chat.
        for (path, text, guide) in &parsed {
            let merged = !guide.members.is_empty() && guide.members.iter().all(|m| forms.contains_key(m));
            if !guide.channels.online.is_empty() && !forms.contains_key(&guide.id) && !merged {
                diagnostics.push(warning(
                    path,
                    find_line(text, "online"),
                    format!(
                        "指南提供网上办理，但没有申请表 forms/{}.toml，市民无法在对话中申请",
                        guide.id
                    ),
                ));
            }
        }
        let (phrases, phrases_text) = load_phrases(dir, &mut hasher, &mut diagnostics);
        // The hotline named by this folder's own phrases.toml must be one of its departments.
        let hotline = &phrases.assistant().hotline_department;
        if let Some(text) = phrases_text
            && !departments.iter().any(|d| &d.id == hotline)
        {
            diagnostics.push(error(
                &dir.join("phrases.toml"),
                find_line(&text, "hotline_department"),
                format!("部门 “{hotline}” 不在 departments.toml 中"),
            ));
        }
        // A bundle whose member was skipped still loads: its own text is valid.
        let by_id = guides.iter().enumerate().map(|(i, g)| (g.id.clone(), i)).collect();
        let corpus = Corpus {
            guides,
            departments,
            e_licenses,
            lexicon: Lexicon::new(&terms),
            by_id,
            forms,
            calendar,
            halls,
            reminders,
            tickets,
            ticket_examples,
            intent_examples,
            phrases,
            fingerprint: hasher.finish(),
        };
        Ok(LoadOutcome { corpus, diagnostics })
    }

    fn reindex(&mut self) {
        self.by_id = self.guides.iter().enumerate().map(|(i, g)| (g.id.clone(), i)).collect();
    }

    pub fn guide(&self, id: &str) -> Option<&Arc<Guide>> {
        self.by_id.get(id).map(|&i| &self.guides[i])
    }

    /// The application form of a service: its own, or for a bundle without one, the union
    /// of its members' forms (each field once).
    pub fn form(&self, service_id: &str) -> Option<crate::Form> {
        if let Some(form) = self.forms.get(service_id) {
            return Some(form.clone());
        }
        let guide = self.guide(service_id)?;
        let members: Vec<&crate::Form> = guide.members.iter().filter_map(|m| self.forms.get(m)).collect();
        (!members.is_empty()).then(|| crate::forms::merge(service_id, &members))
    }

    /// Ids of the services that have a form (own or merged), sorted.
    pub fn services_with_forms(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .guides
            .iter()
            .filter(|g| self.form(&g.id).is_some())
            .map(|g| g.id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    pub fn e_license(&self, id: &str) -> Option<&ELicenseType> {
        self.e_licenses.iter().find(|e| e.id == id)
    }

    pub fn len(&self) -> usize {
        self.guides.len()
    }

    pub fn is_empty(&self) -> bool {
        self.guides.is_empty()
    }
}

fn load_list<T: for<'de> Deserialize<'de>>(path: &Path, key: &str, hasher: &mut DefaultHasher) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|source| io_error(path, source))?;
    text.hash(hasher);
    let mut table: toml::Table = toml::from_str(&text).map_err(|err| {
        let line = err
            .span()
            .map(|s| line_of_offset(&text.as_bytes()[..s.start]))
            .unwrap_or(1);
        Error::Invalid(vec![error(path, line, format!("格式错误：{}", err.message()))])
    })?;
    let Some(value) = table.remove(key) else {
        return Ok(Vec::new());
    };
    value.try_into().map_err(|err: toml::de::Error| {
        Error::Invalid(vec![error(
            path,
            1,
            format!("[[{key}]] 条目不符合格式：{}", err.message()),
        )])
    })
}

/// `halls.toml` and `reminders.toml`: each entry that names something unknown is reported
/// and left out; the rest load.
fn load_service_desk(
    dir: &Path,
    guide_ids: &HashSet<&str>,
    e_license_ids: &HashSet<&str>,
    hasher: &mut DefaultHasher,
    out: &mut Vec<Diagnostic>,
) -> (Vec<crate::services::Hall>, Vec<crate::services::ReminderRule>) {
    use crate::services::{HallsFile, ReminderKind, RemindersFile, parse_session};
    fn parse<T: serde::de::DeserializeOwned + Default>(path: &Path, text: &str, out: &mut Vec<Diagnostic>) -> T {
        toml::from_str(text).unwrap_or_else(|err: toml::de::Error| {
            let line = err
                .span()
                .map(|s| line_of_offset(&text.as_bytes()[..s.start]))
                .unwrap_or(1);
            out.push(error(path, line, format!("格式错误：{}", err.message())));
            T::default()
        })
    }
    let mut halls = Vec::new();
    let path = dir.join("halls.toml");
    if let Ok(text) = std::fs::read_to_string(&path) {
        text.hash(hasher);
        let file: HallsFile = parse(&path, &text, out);
        let mut ids = HashSet::new();
        for hall in file.halls {
            let line = find_line(&text, &format!("\"{}\"", hall.id));
            let mut problems = Vec::new();
            if !ids.insert(hall.id.clone()) {
                problems.push(format!("大厅 id “{}” 重复", hall.id));
            }
            if hall.sessions.is_empty() {
                problems.push(format!("大厅 “{}” 没有 sessions（办公时段）", hall.id));
            }
            for session in &hall.sessions {
                if parse_session(session).is_none() {
                    problems.push(format!("办公时段 “{session}” 应写成 HH:MM-HH:MM，且开始早于结束"));
                }
            }
            if hall.slot_minutes == 0 {
                problems.push("slot_minutes 不能为 0".into());
            }
            let mut windows = HashSet::new();
            for window in &hall.windows {
                if !windows.insert(window.id.as_str()) {
                    problems.push(format!("窗口 id “{}” 重复", window.id));
                }
                if window.capacity == 0 {
                    problems.push(format!("窗口 “{}” 的 capacity 不能为 0", window.id));
                }
                for service in &window.services {
                    if service != "*" && !guide_ids.contains(service.as_str()) {
                        problems.push(format!("窗口 “{}” 的事项 “{service}” 不存在", window.id));
                    }
                }
            }
            if problems.is_empty() {
                halls.push(hall);
            } else {
                out.extend(problems.into_iter().map(|p| error(&path, line, p)));
            }
        }
    }
    let mut rules = Vec::new();
    let path = dir.join("reminders.toml");
    if let Ok(text) = std::fs::read_to_string(&path) {
        text.hash(hasher);
        let file: RemindersFile = parse(&path, &text, out);
        let mut ids = HashSet::new();
        for rule in file.rules {
            let line = find_line(&text, &format!("\"{}\"", rule.id));
            let mut problems = Vec::new();
            if !ids.insert(rule.id.clone()) {
                problems.push(format!("提醒规则 id “{}” 重复", rule.id));
            }
            if !guide_ids.contains(rule.service_id.as_str()) {
                problems.push(format!("提醒规则 “{}” 的事项 “{}” 不存在", rule.id, rule.service_id));
            }
            match (rule.kind, &rule.e_license, rule.age) {
                (ReminderKind::Age, _, None) => problems.push(format!("提醒规则 “{}” 缺少 age", rule.id)),
                (ReminderKind::Expiry | ReminderKind::Issued, None, _) => {
                    problems.push(format!("提醒规则 “{}” 缺少 e_license", rule.id))
                }
                (_, Some(kind), _) if !e_license_ids.contains(kind.as_str()) => {
                    problems.push(format!("电子证照类型 “{kind}” 不在 e_licenses.toml 中"))
                }
                _ => {}
            }
            if problems.is_empty() {
                rules.push(rule);
            } else {
                out.extend(problems.into_iter().map(|p| error(&path, line, p)));
            }
        }
    }
    (halls, rules)
}

fn load_calendar(dir: &Path, hasher: &mut DefaultHasher, out: &mut Vec<Diagnostic>) -> crate::Calendar {
    let path = dir.join("calendar.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return crate::Calendar::default();
    };
    text.hash(hasher);
    toml::from_str(&text).unwrap_or_else(|err: toml::de::Error| {
        let line = err
            .span()
            .map(|s| line_of_offset(&text.as_bytes()[..s.start]))
            .unwrap_or(1);
        out.push(error(&path, line, format!("格式错误：{}", err.message())));
        crate::Calendar::default()
    })
}

fn load_ticket_rules(
    dir: &Path,
    department_ids: &HashSet<&str>,
    hasher: &mut DefaultHasher,
    out: &mut Vec<Diagnostic>,
) -> crate::TicketRules {
    let path = dir.join("tickets.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return crate::TicketRules::default();
    };
    text.hash(hasher);
    let rules: crate::TicketRules = match toml::from_str(&text) {
        Ok(rules) => rules,
        Err(err) => {
            let line = err
                .span()
                .map(|s| line_of_offset(&text.as_bytes()[..s.start]))
                .unwrap_or(1);
            out.push(error(&path, line, format!("格式错误：{}", err.message())));
            return crate::TicketRules::default();
        }
    };
    for category in &rules.categories {
        if !department_ids.contains(category.department.as_str()) {
            let line = find_line(&text, &format!("\"{}\"", category.department));
            out.push(error(
                &path,
                line,
                format!("部门 “{}” 不在 departments.toml 中", category.department),
            ));
        }
    }
    for route in &rules.district_routes {
        let line = find_line(&text, &format!("\"{}\"", route.department));
        if !department_ids.contains(route.department.as_str()) {
            out.push(error(
                &path,
                line,
                format!("部门 “{}” 不在 departments.toml 中", route.department),
            ));
        }
        if !rules.districts.contains(&route.district) {
            out.push(error(
                &path,
                line,
                format!("区县 “{}” 不在 districts 中", route.district),
            ));
        }
        if rules.department_of(&route.category).is_none() {
            out.push(error(
                &path,
                line,
                format!("分类 “{}” 没有 [[category]]", route.category),
            ));
        }
    }
    rules
}

/// `phrases.toml`: absent, the built-in lists; broken, the built-in lists and the problems
/// (a typo in a word list must not leave the dialogue unable to read a rating). Also returns
/// the file's text, when there is one, for the checks that need the rest of the folder.
fn load_phrases(dir: &Path, hasher: &mut DefaultHasher, out: &mut Vec<Diagnostic>) -> (crate::Phrases, Option<String>) {
    let path = dir.join("phrases.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return (crate::Phrases::builtin().clone(), None);
    };
    text.hash(hasher);
    let phrases = crate::Phrases::parse(&text).unwrap_or_else(|problems| {
        out.extend(problems.into_iter().map(|(line, message)| error(&path, line, message)));
        crate::Phrases::builtin().clone()
    });
    (phrases, Some(text))
}

fn load_forms(
    dir: &Path,
    materials: &HashMap<&str, Vec<&str>>,
    e_license_ids: &HashSet<&str>,
    hasher: &mut DefaultHasher,
    out: &mut Vec<Diagnostic>,
) -> crate::forms::Forms {
    let mut forms = crate::forms::Forms::new();
    for path in optional_files(dir)
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("forms")))
    {
        let Ok(text) = std::fs::read_to_string(&path) else {
            out.push(error(&path, 1, "无法读取文件（需要 UTF-8 编码）".into()));
            continue;
        };
        path.file_name().hash(hasher);
        text.hash(hasher);
        let form: crate::Form = match toml::from_str(&text) {
            Ok(form) => form,
            Err(err) => {
                let line = err
                    .span()
                    .map(|s| line_of_offset(&text.as_bytes()[..s.start]))
                    .unwrap_or(1);
                out.push(error(&path, line, format!("格式错误：{}", err.message())));
                continue;
            }
        };
        let mut failed = false;
        match materials.get(form.service_id.as_str()) {
            None => {
                out.push(error(
                    &path,
                    find_line(&text, "service_id"),
                    format!("事项 “{}” 不存在", form.service_id),
                ));
                failed = true;
            }
            Some(names) => {
                let mut seen = HashSet::new();
                for upload in &form.uploads {
                    let line = find_line(&text, &format!("\"{}\"", upload.material));
                    if !names.contains(&upload.material.as_str()) {
                        out.push(error(
                            &path,
                            line,
                            format!("上传材料 “{}” 不在该事项指南的 [[materials]] 中", upload.material),
                        ));
                        failed = true;
                    } else if !seen.insert(upload.material.as_str()) {
                        out.push(error(&path, line, format!("上传材料 “{}” 重复", upload.material)));
                        failed = true;
                    }
                }
            }
        }
        let mut names = HashSet::new();
        for field in &form.fields {
            let line = find_line(&text, &format!("\"{}\"", field.name));
            if !names.insert(field.name.as_str()) {
                out.push(error(&path, line, format!("字段 “{}” 重复", field.name)));
                failed = true;
            }
            if let Some((kind, _)) = field.prefill_source()
                && !e_license_ids.contains(kind)
            {
                out.push(error(&path, line, format!("预填来源 “{kind}” 不是已知的电子证照类型")));
                failed = true;
            }
        }
        if !failed {
            forms.insert(form.service_id.clone(), form);
        }
    }
    forms
}

pub(crate) fn check_guide(
    guide: &Guide,
    path: &Path,
    text: &str,
    department_ids: &HashSet<&str>,
    e_license_ids: &HashSet<&str>,
    all_ids: &HashSet<&str>,
    out: &mut Vec<Diagnostic>,
) {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if guide.id != stem {
        out.push(error(
            path,
            find_line(text, "id ="),
            format!("id “{}” 应与文件名 “{stem}” 一致", guide.id),
        ));
    }
    if guide.id.is_empty()
        || !guide
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        out.push(error(
            path,
            find_line(text, "id ="),
            "id 只能由小写字母、数字和连字符组成".into(),
        ));
    }
    for (key, value) in [("title =", &guide.title), ("summary =", &guide.summary)] {
        if value.trim().is_empty() {
            out.push(error(
                path,
                find_line(text, key),
                format!("{} 不能为空", key.trim_end_matches(" =")),
            ));
        }
    }
    if let Some(summary_en) = &guide.summary_en {
        if summary_en.trim().is_empty() {
            out.push(error(
                path,
                find_line(text, "summary_en ="),
                "summary_en 不能为空".into(),
            ));
        } else if !summary_en.chars().any(|c| c.is_ascii_alphabetic()) {
            out.push(error(
                path,
                find_line(text, "summary_en ="),
                "summary_en 应为英文，却没有任何英文字母".into(),
            ));
        }
    }
    if !department_ids.contains(guide.department.as_str()) {
        out.push(error(
            path,
            find_line(text, "department ="),
            format!("部门 “{}” 不在 departments.toml 中", guide.department),
        ));
    }
    match guide.kind {
        GuideKind::Service if !guide.members.is_empty() => out.push(error(
            path,
            find_line(text, "members ="),
            "单项服务（kind = \"service\"）不应有 members".into(),
        )),
        _ => {}
    }
    for member in &guide.members {
        if !all_ids.contains(member.as_str()) {
            out.push(error(
                path,
                find_line(text, "members ="),
                format!("成员事项 “{member}” 不存在"),
            ));
        } else if member == &guide.id {
            out.push(error(path, find_line(text, "members ="), "成员事项不能是自己".into()));
        }
    }
    for related in &guide.related {
        if !all_ids.contains(related.as_str()) {
            out.push(warning(
                path,
                find_line(text, "related ="),
                format!("相关事项 “{related}” 不存在"),
            ));
        }
    }
    if guide.time_limit.promised_days > guide.time_limit.legal_days {
        out.push(error(
            path,
            find_line(text, "promised_days"),
            format!(
                "承诺时限 {} 个工作日超过法定时限 {} 个工作日",
                guide.time_limit.promised_days, guide.time_limit.legal_days
            ),
        ));
    }
    for material in &guide.materials {
        let line = find_line(text, &format!("\"{}\"", material.name));
        if !MATERIAL_FORMS.contains(&material.form.as_str()) {
            out.push(error(
                path,
                line,
                format!(
                    "材料 “{}” 的 form “{}” 应为 {}",
                    material.name,
                    material.form,
                    MATERIAL_FORMS.join("、")
                ),
            ));
        }
        if material.count == 0 {
            out.push(error(
                path,
                line,
                format!("材料 “{}” 的份数 count 不能为 0", material.name),
            ));
        }
        if let Some(e_license) = &material.e_license
            && !e_license_ids.contains(e_license.as_str())
        {
            out.push(error(
                path,
                find_line(text, &format!("\"{e_license}\"")),
                format!("电子证照类型 “{e_license}” 不在 e_licenses.toml 中"),
            ));
        }
    }
    if guide.faq.len() < 4 {
        out.push(warning(
            path,
            find_line(text, "[[faq]]"),
            format!("常见问题只有 {} 条，建议至少 4 条", guide.faq.len()),
        ));
    }
    if guide.steps.is_empty() {
        out.push(warning(path, 1, "没有办理流程 steps".into()));
    }
    if guide.channels.online.is_empty() && guide.channels.halls.is_empty() {
        out.push(warning(
            path,
            find_line(text, "[channels]"),
            "没有任何办理渠道（网上或窗口）".into(),
        ));
    }
    let duplicate_aliases: BTreeSet<&String> = guide
        .aliases
        .iter()
        .filter(|a| guide.aliases.iter().filter(|b| b == a).count() > 1)
        .collect();
    for alias in duplicate_aliases {
        out.push(warning(
            path,
            find_line(text, "aliases ="),
            format!("口语说法 “{alias}” 重复"),
        ));
    }
}

pub(crate) fn error(path: &Path, line: usize, message: String) -> Diagnostic {
    Diagnostic {
        path: path.to_path_buf(),
        line,
        severity: Severity::Error,
        message,
    }
}

fn warning(path: &Path, line: usize, message: String) -> Diagnostic {
    Diagnostic {
        path: path.to_path_buf(),
        line,
        severity: Severity::Warning,
        message,
    }
}

pub(crate) fn line_of_offset(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

/// 1-based line of the first line containing `needle`; 1 when absent.
pub(crate) fn find_line(text: &str, needle: &str) -> usize {
    text.lines().position(|line| line.contains(needle)).map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "demo-service"
title = "示例服务"
summary = "一个示例。"
aliases = ["示例"]
audience = "个人"
department = "dept-a"
kind = "service"
steps = ["提交申请"]
related = []
reviewed = 2026-01-02

[time_limit]
legal_days = 20
promised_days = 5

[[materials]]
name = "居民身份证"
form = "原件"
count = 1
e_license = "id_card"

[[fees]]
item = "办理费用"
amount = "免费"

[channels]
online = [{ name = "示范办", url = "https://zwfw.shifan.example/" }]

[[faq]]
q = "一"
a = "一"
[[faq]]
q = "二"
a = "二"
[[faq]]
q = "三"
a = "三"
[[faq]]
q = "四"
a = "四"
"#;

    fn folder(guides: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("guides")).unwrap();
        std::fs::write(
            dir.path().join("departments.toml"),
            "[[department]]\nid = \"dept-a\"\nname = \"甲局\"\nhotline = \"1\"\nhours = \"全天\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("e_licenses.toml"),
            "[[type]]\nid = \"id_card\"\nname = \"居民身份证\"\nissuer = \"dept-a\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("lexicon.toml"),
            "[[term]]\nofficial = \"示例服务\"\ncolloquial = [\"样例\"]\n",
        )
        .unwrap();
        for (name, text) in guides {
            std::fs::write(dir.path().join("guides").join(name), text).unwrap();
        }
        // The demo service offers online handling: it has a form.
        std::fs::create_dir_all(dir.path().join("forms")).unwrap();
        if guides.iter().any(|(name, _)| *name == "demo-service.toml") {
            std::fs::write(
            dir.path().join("forms/demo-service.toml"),
                "service_id = \"demo-service\"\n\n[[field]]\nname = \"mobile\"\nlabel = \"手机号码\"\nkind = \"mobile\"\n",
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn valid_guide_loads_without_diagnostics() {
        let dir = folder(&[("demo-service.toml", GOOD)]);
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(outcome.diagnostics, vec![]);
        assert_eq!(outcome.corpus.guide("demo-service").unwrap().title, "示例服务");
        assert_eq!(outcome.corpus.lexicon.expansions("样例"), vec!["示例服务"]);
    }

    #[test]
    fn syntax_error_reports_its_line_and_skips_only_that_guide() {
        let broken = GOOD
            .replace("kind = \"service\"", "kind = \"service")
            .replace("demo-service", "broken");
        let dir = folder(&[("demo-service.toml", GOOD), ("broken.toml", &broken)]);
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(outcome.n_errors(), 1);
        let diagnostic = &outcome.diagnostics[0];
        assert!(diagnostic.path.ends_with("broken.toml"));
        assert_eq!(diagnostic.line, 8, "{diagnostic}");
        assert_eq!(outcome.corpus.len(), 1);
        assert!(outcome.into_strict().is_err());
    }

    #[test]
    fn unknown_department_and_e_license_are_errors_with_lines() {
        let bad = GOOD
            .replace("dept-a", "nowhere")
            .replace("\"id_card\"", "\"unknown_card\"");
        let dir = folder(&[("demo-service.toml", &bad)]);
        let outcome = Corpus::load(dir.path()).unwrap();
        let text: Vec<String> = outcome.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(outcome.n_errors(), 2, "{text:?}");
        assert!(text[0].contains(":7: 错误：部门 “nowhere”"), "{text:?}");
        assert!(text[1].contains(":21: 错误：电子证照类型 “unknown_card”"), "{text:?}");
        assert!(outcome.corpus.is_empty());
    }

    #[test]
    fn summary_en_must_be_english_when_present() {
        let with = |summary_en: &str| {
            GOOD.replacen(
                "summary = \"一个示例。\"\n",
                &format!("summary = \"一个示例。\"\nsummary_en = \"{summary_en}\"\n"),
                1,
            )
        };
        let english = with("An example service (示例服务).");
        let dir = folder(&[("demo-service.toml", &english)]);
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(outcome.diagnostics, vec![]);
        assert_eq!(
            outcome.corpus.guide("demo-service").unwrap().summary_en.as_deref(),
            Some("An example service (示例服务).")
        );
        for (bad, reason) in [("  ", "不能为空"), ("一个示例。", "没有任何英文字母")] {
            let dir = folder(&[("demo-service.toml", &with(bad))]);
            let outcome = Corpus::load(dir.path()).unwrap();
            let text: Vec<String> = outcome.diagnostics.iter().map(ToString::to_string).collect();
            assert_eq!(outcome.n_errors(), 1, "{text:?}");
            assert!(text[0].contains(":5: 错误：summary_en"), "{text:?}");
            assert!(text[0].contains(reason), "{text:?}");
            assert!(outcome.corpus.is_empty());
        }
    }

    #[test]
    fn the_sample_corpus_loads_cleanly_and_every_guide_has_an_english_summary() {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"));
        let outcome = Corpus::load(&dir).unwrap();
        let shown: Vec<String> = outcome.diagnostics.iter().map(ToString::to_string).collect();
        assert!(shown.is_empty(), "{shown:#?}");
        let missing: Vec<&String> = outcome
            .corpus
            .guides
            .iter()
            .filter(|g| g.summary_en.is_none())
            .map(|g| &g.id)
            .collect();
        assert!(missing.is_empty(), "no summary_en: {missing:?}");
    }

    #[test]
    fn id_must_match_file_name() {
        let dir = folder(&[("other-name.toml", GOOD)]);
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(outcome.n_errors(), 1);
        assert!(outcome.diagnostics[0].message.contains("文件名"));
    }

    #[test]
    fn invalid_utf8_is_reported_not_panicked() {
        let mut bytes = GOOD.as_bytes().to_vec();
        bytes.extend_from_slice(b"\n# \xff\xfe\n");
        let dir = folder(&[]);
        std::fs::write(dir.path().join("guides/demo-service.toml"), bytes).unwrap();
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(outcome.n_errors(), 1);
        assert!(outcome.diagnostics[0].message.contains("UTF-8"));
    }

    #[test]
    fn phrases_default_to_the_built_in_lists_when_the_file_is_absent() {
        let dir = folder(&[("demo-service.toml", GOOD)]);
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(&outcome.corpus.phrases, crate::Phrases::builtin());
    }

    #[test]
    fn a_broken_phrases_file_reports_path_and_line_and_keeps_the_built_in_lists() {
        let dir = folder(&[("demo-service.toml", GOOD)]);
        let text = "[modifiers]\nnegators = [\"不\"]\nstrong = [\"很\"]\nmild = [\"挺\"]\nhedges = [\"基本\"]\n\
                    emphatic_suffixes = [\"极了\"]\nfillers = [\"是\"]\n\n[rating]\n\n[[rating.words]]\nlevel = 9\n\
                    words = [\"满意\"]\n\n[urgency]\nurgent = [\"急\"]\ncalm = [\"急\"]\nyes = [\"是\"]\nno = [\"否\"]\n\n\
                    [resolved]\ncues = [\"解决了\"]\nsubjects = [\"投诉\"]\nquestions = [\"吗\"]\n";
        std::fs::write(dir.path().join("phrases.toml"), text).unwrap();
        let outcome = Corpus::load(dir.path()).unwrap();
        let shown: Vec<String> = outcome.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            shown
                .iter()
                .any(|d| d.contains("phrases.toml:12:") && d.contains("1 到 5")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|d| d.contains("phrases.toml:16:") && d.contains("urgent 和 calm")),
            "{shown:?}"
        );
        assert_eq!(&outcome.corpus.phrases, crate::Phrases::builtin());
    }

    /// Another city edits data, not code: its name, greeting, hotline and ordinal words come
    /// from its own phrases.toml; an empty greeting, a repeated ordinal place and a hotline that
    /// is no department are reported with path and line.
    #[test]
    fn a_city_of_its_own_is_data_and_checked() {
        let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/phrases.toml")).unwrap();
        let own = shipped
            .replace("city = \"示范市\"", "city = \"临江市\"")
            .replace("我是示范市政务服务智能助手", "我是临江市政务服务助手")
            .replace("place = 3\n", "place = 4\n");
        assert_ne!(own, shipped);
        let dir = folder(&[("demo-service.toml", GOOD)]);
        std::fs::write(dir.path().join("phrases.toml"), &own).unwrap();
        let departments = std::fs::read_to_string(dir.path().join("departments.toml")).unwrap();
        let hotline = "\n[[department]]\nid = \"hotline-12345\"\nname = \"临江市12345热线\"\nhotline = \"12345\"\nhours = \"全天\"\n";
        std::fs::write(dir.path().join("departments.toml"), format!("{departments}{hotline}")).unwrap();
        let outcome = Corpus::load(dir.path()).unwrap();
        assert_eq!(outcome.n_errors(), 0, "{:?}", outcome.diagnostics);
        let assistant = outcome.corpus.phrases.assistant();
        assert_eq!(assistant.city, "临江市");
        assert!(assistant.greeting.contains("临江市") && !assistant.greeting.contains("示范市"));
        assert!(outcome.corpus.phrases.ordinals().iter().any(|o| o.place == 4));

        // Broken: an empty greeting and two lists for the second place; the shipped text stays.
        let broken = own
            .replace("我是临江市政务服务助手", "")
            .replace("place = 4\n", "place = 2\n");
        let broken = broken.replace(
            &broken[broken.find("greeting = ").unwrap()..]
                .lines()
                .next()
                .unwrap()
                .to_string(),
            "greeting = \"\"",
        );
        std::fs::write(dir.path().join("phrases.toml"), &broken).unwrap();
        let outcome = Corpus::load(dir.path()).unwrap();
        let shown: Vec<String> = outcome.diagnostics.iter().map(|d| d.to_string()).collect();
        let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
        assert!(
            shown
                .iter()
                .any(|d| d.contains(&format!("phrases.toml:{}:", line_of("greeting = "))) && d.contains("greeting")),
            "{shown:?}"
        );
        assert!(shown.iter().any(|d| d.contains("序号 2 重复")), "{shown:?}");
        assert_eq!(outcome.corpus.phrases.assistant().city, "示范市");

        // A hotline that is no department of this folder.
        std::fs::write(
            dir.path().join("phrases.toml"),
            own.replace("hotline-12345", "hotline-9"),
        )
        .unwrap();
        let outcome = Corpus::load(dir.path()).unwrap();
        let shown: Vec<String> = outcome.diagnostics.iter().map(|d| d.to_string()).collect();
        let line = own.lines().position(|l| l.starts_with("hotline_department")).unwrap() + 1;
        assert!(
            shown
                .iter()
                .any(|d| d.contains(&format!("phrases.toml:{line}:")) && d.contains("hotline-9")),
            "{shown:?}"
        );
    }

    #[test]
    fn fingerprint_changes_when_a_guide_changes() {
        let dir = folder(&[("demo-service.toml", GOOD)]);
        let before = Corpus::load(dir.path()).unwrap().corpus.fingerprint;
        std::fs::write(
            dir.path().join("guides/demo-service.toml"),
            GOOD.replace("一个示例", "两个示例"),
        )
        .unwrap();
        let after = Corpus::load(dir.path()).unwrap().corpus.fingerprint;
        assert_ne!(before, after);
    }
}

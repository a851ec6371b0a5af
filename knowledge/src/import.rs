//! Importing a city's service catalogue (政务服务事项目录) from a spreadsheet export: each row
//! becomes `guides/<id>.toml`.
//!
//! Key design decision: everything city-specific (which column feeds which field, how a cell
//! holding several items is split, which 实施主体 is which department, how ids are made) is
//! a TOML mapping file the operator edits, and every generated guide goes through the
//! loader's own checks (`corpus::check_guide`) before it is written, so an imported folder
//! passes `banshi knowledge check`. A row that cannot be converted is reported as
//! `file:row: reason` and skipped; the other rows are still written. A file whose text would
//! not change is left alone (the server's reload watches modification times).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::corpus::{self, Diagnostic, MATERIAL_FORMS};
use crate::guide::{Audience, Channels, Department, Fee, Guide, GuideKind, Hall, Material, OnlineEntry, TimeLimit};

/// The first line of every generated guide. A guide file without it was written by hand and
/// is never overwritten by an import.
pub const GENERATED_MARKER: &str = "# 由 banshi knowledge import 生成";

/// What can stop an import as a whole. A bad row is not an error: it is reported in
/// [`Report::problems`] and the other rows go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operator's mapping file is wrong.
    #[error("{}:{line}: 错误：{message}", path.display())]
    Mapping {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The export cannot be read as a catalogue (format, encoding, missing columns): the
    /// operator's file, not the machine.
    #[error("{}: 错误：{message}", path.display())]
    Sheet { path: PathBuf, message: String },
    /// The knowledge folder's own files (departments, e-licence types) are broken (the
    /// operator's) or unreadable (the machine's).
    #[error(transparent)]
    Knowledge(#[from] crate::Error),
    /// A fault of the machine: a file that cannot be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A generated guide that does not read back: a bug here, not the operator's mistake.
    #[error("internal error: generated guide {id} does not parse: {message}")]
    Internal { id: String, message: String },
}

impl Error {
    /// Whether the operator can fix this by editing the mapping, the export or the folder.
    pub fn is_operator_mistake(&self) -> bool {
        matches!(
            self,
            Error::Mapping { .. } | Error::Sheet { .. } | Error::Knowledge(crate::Error::Invalid(_))
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Report {
    /// Data rows read (blank rows not counted).
    pub n_rows: usize,
    /// Ids of the guides written for the first time.
    pub new: Vec<String>,
    /// Ids of the guides rewritten because their text changed.
    pub changed: Vec<String>,
    /// Ids of the guides whose file already had exactly this text (not touched).
    pub unchanged: Vec<String>,
    /// Rows that could not be imported; each problem is `file:row: 错误：reason`.
    pub problems: Vec<Diagnostic>,
    /// Spreadsheet row numbers of the rows left out.
    pub failed_rows: Vec<usize>,
}

impl Report {
    pub fn n_failed(&self) -> usize {
        self.failed_rows.len()
    }
}

/// Whether to write the guides or only say what would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Files,
    DryRun,
}

/// Imports `source` (.csv in UTF-8, or .xlsx/.xls/.xlsb/.ods) into `knowledge_dir/guides`
/// with the mapping file at `mapping_path`.
pub fn import(source: &Path, mapping_path: &Path, knowledge_dir: &Path, write: Write) -> Result<Report> {
    import_showing(source, mapping_path, knowledge_dir, write, &|_, _| {})
}

/// [`import`], telling `progress(done, more_to_do)` as it goes: the rows read and converted,
/// then the guides checked and written (each counted once done; the second count arrives
/// once the rows are converted).
pub fn import_showing(
    source: &Path,
    mapping_path: &Path,
    knowledge_dir: &Path,
    write: Write,
    progress: &dyn Fn(usize, usize),
) -> Result<Report> {
    let mapping = Mapping::load(mapping_path)?;
    let outcome = crate::Corpus::load(knowledge_dir)?;
    mapping.check_against(&outcome.corpus.departments, &outcome.corpus.e_licenses)?;
    let sheet = Sheet::read(source, &mapping.source)?;
    mapping.check_columns(&sheet)?;

    let guides_dir = knowledge_dir.join("guides");
    let mut existing_ids: HashSet<String> = std::fs::read_dir(&guides_dir)
        .map_err(|source| io("read", &guides_dir, source))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .filter_map(|path| path.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    existing_ids.extend(outcome.corpus.guides.iter().map(|g| g.id.clone()));

    let department_ids: HashSet<&str> = outcome.corpus.departments.iter().map(|d| d.id.as_str()).collect();
    let e_license_ids: HashSet<&str> = outcome.corpus.e_licenses.iter().map(|e| e.id.as_str()).collect();

    let mut report = Report::default();
    let mut converted: Vec<(usize, Guide, String)> = Vec::new();
    let mut first_row_of: HashMap<String, usize> = HashMap::new();
    progress(0, sheet.rows.iter().filter(|row| !row.is_blank()).count());
    for row in sheet.rows.iter().filter(|row| !row.is_blank()) {
        progress(1, 0);
        report.n_rows += 1;
        let mut problems = Vec::new();
        match mapping.convert(&sheet, row, &outcome.corpus.departments) {
            Ok((guide, code)) => {
                if let Some(first) = first_row_of.get(&guide.id) {
                    problems.push(format!("id “{}” 与第 {first} 行重复（事项编码 “{code}”）", guide.id));
                } else {
                    first_row_of.insert(guide.id.clone(), row.number);
                    converted.push((row.number, guide, code));
                }
            }
            Err(found) => problems = found,
        }
        fail_row(&mut report, source, row.number, problems);
    }

    let mut id_strings = existing_ids;
    id_strings.extend(converted.iter().map(|(_, guide, _)| guide.id.clone()));
    let all_ids: HashSet<&str> = id_strings.iter().map(String::as_str).collect();
    progress(0, converted.len());
    for (row, guide, code) in &mut converted {
        progress(1, 0);
        let path = guides_dir.join(format!("{}.toml", guide.id));
        let old = match std::fs::read_to_string(&path) {
            Ok(old) => Some(old),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(io("read", &path, source)),
        };
        if let Some(previous) = old
            .as_deref()
            .filter(|old| old.starts_with(GENERATED_MARKER))
            .and_then(|old| toml::from_str::<Guide>(old).ok())
        {
            keep_hand_added(guide, previous, mapping.columns.aliases.is_some());
        }
        let text = render(guide, code)?;
        let mut diagnostics = Vec::new();
        corpus::check_guide(
            guide,
            &path,
            &text,
            &department_ids,
            &e_license_ids,
            &all_ids,
            &mut diagnostics,
        );
        let problems: Vec<String> = diagnostics
            .into_iter()
            .filter(|d| d.severity == corpus::Severity::Error)
            .map(|d| d.message)
            .collect();
        if !problems.is_empty() {
            fail_row(&mut report, source, *row, problems);
            continue;
        }
        match old {
            Some(old) if old == text => report.unchanged.push(guide.id.clone()),
            Some(old) if !old.starts_with(GENERATED_MARKER) => fail_row(
                &mut report,
                source,
                *row,
                vec![format!(
                    "id “{}” 已是手写的指南 guides/{}.toml，导入不会覆盖它（请在映射 [id] 中换前缀或改 id）",
                    guide.id, guide.id
                )],
            ),
            old => {
                if write == Write::Files {
                    write_atomically(&guides_dir, &guide.id, &text)?;
                }
                match old {
                    Some(_) => report.changed.push(guide.id.clone()),
                    None => report.new.push(guide.id.clone()),
                }
            }
        }
    }
    report.problems.sort_by_key(|d| d.line);
    report.failed_rows.sort_unstable();
    report.failed_rows.dedup();
    Ok(report)
}

/// What an export never holds (FAQ, English summary, related items, and the aliases when no
/// column feeds them) is kept from the previously imported file, so it can be added by hand.
fn keep_hand_added(guide: &mut Guide, previous: Guide, aliases_mapped: bool) {
    guide.faq = previous.faq;
    guide.summary_en = previous.summary_en;
    guide.related = previous.related;
    if !aliases_mapped {
        guide.aliases = previous.aliases;
    }
}

fn fail_row(report: &mut Report, source: &Path, row: usize, problems: Vec<String>) {
    if problems.is_empty() {
        return;
    }
    report.failed_rows.push(row);
    report
        .problems
        .extend(problems.into_iter().map(|message| corpus::error(source, row, message)));
}

/// The guide's file text: the marker, where it came from, then the guide.
fn render(guide: &Guide, code: &str) -> Result<String> {
    let body = toml::to_string_pretty(guide).map_err(|err| Error::Internal {
        id: guide.id.clone(),
        message: err.to_string(),
    })?;
    // Empty lists are left out (they default to empty), so that `[[faq]]` can be appended by hand.
    let body: String = body
        .lines()
        .filter(|line| !line.ends_with(" = []"))
        .map(|line| format!("{line}\n"))
        .collect();
    let text = format!(
        "{GENERATED_MARKER}（事项编码 {code}）。请改事项目录后重新导入；\n# 本文件中手工补充的 faq、summary_en、related（及未映射列的 aliases）重新导入时保留，其余以表格为准。\n{body}"
    );
    // What the loader will read must be what was meant.
    toml::from_str::<Guide>(&text).map_err(|err| Error::Internal {
        id: guide.id.clone(),
        message: err.to_string(),
    })?;
    Ok(text)
}

/// Write beside and rename, so the server's reload never reads half a file. The temporary
/// name does not end in `.toml`, which the loader ignores.
fn write_atomically(guides_dir: &Path, id: &str, text: &str) -> Result<()> {
    let temporary = guides_dir.join(format!(".{id}.toml.importing"));
    let path = guides_dir.join(format!("{id}.toml"));
    std::fs::write(&temporary, text).map_err(|source| io("write", &temporary, source))?;
    std::fs::rename(&temporary, &path).map_err(|source| io("write", &path, source))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------
// The spreadsheet.

/// A catalogue export: the header's column names and the data rows below it.
#[derive(Debug)]
pub struct Sheet {
    pub path: PathBuf,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// One data row, numbered as the spreadsheet shows it (the first row is 1).
#[derive(Debug)]
pub struct Row {
    pub number: usize,
    pub cells: Vec<String>,
}

impl Row {
    fn is_blank(&self) -> bool {
        self.cells.iter().all(|cell| cell.trim().is_empty())
    }
}

impl Sheet {
    pub fn read(path: &Path, options: &SourceOptions) -> Result<Sheet> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let rows = match extension.as_str() {
            "csv" => read_csv(path)?,
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => read_workbook(path, options.sheet.as_deref())?,
            _ => {
                return Err(Error::Sheet {
                    path: path.to_path_buf(),
                    message: "只能导入 .csv（UTF-8）或 .xlsx、.xls、.ods 表格".into(),
                });
            }
        };
        let header_row = options.header_row;
        let Some(header) = rows.iter().find(|row| row.number == header_row) else {
            return Err(Error::Sheet {
                path: path.to_path_buf(),
                message: format!("没有第 {header_row} 行（映射 [source] header_row 所指的表头）"),
            });
        };
        let columns = header.cells.iter().map(|cell| clean(cell)).collect();
        let rows = rows.into_iter().filter(|row| row.number > header_row).collect();
        Ok(Sheet {
            path: path.to_path_buf(),
            columns,
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let bytes = std::fs::read(path).map_err(|source| io("read", path, source))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if let Err(err) = std::str::from_utf8(bytes) {
        let line = corpus::line_of_offset(&bytes[..err.valid_up_to()]);
        return Err(Error::Sheet {
            path: path.to_path_buf(),
            message: format!("第 {line} 行起不是 UTF-8 编码（请在表格软件中另存为“CSV UTF-8”）"),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|err| Error::Sheet {
            path: path.to_path_buf(),
            message: format!("CSV 格式错误：{err}"),
        })?;
        rows.push(Row {
            number: i + 1,
            cells: record.iter().map(str::to_string).collect(),
        });
    }
    Ok(rows)
}

fn read_workbook(path: &Path, sheet: Option<&str>) -> Result<Vec<Row>> {
    use calamine::Reader;
    let sheet_error = |message: String| Error::Sheet {
        path: path.to_path_buf(),
        message,
    };
    let mut workbook = calamine::open_workbook_auto(path).map_err(|err| match err {
        calamine::Error::Io(source) => io("read", path, source),
        other => sheet_error(format!("无法读取表格：{other}")),
    })?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) if names.iter().any(|n| n == wanted) => wanted.to_string(),
        Some(wanted) => {
            return Err(sheet_error(format!(
                "没有工作表 “{wanted}”（有：{}）",
                names.join("、")
            )));
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| sheet_error("表格里没有工作表".into()))?,
    };
    let range = workbook
        .worksheet_range(&name)
        .map_err(|err| sheet_error(format!("无法读取工作表 “{name}”：{err}")))?;
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let first_column = range.start().map_or(0, |(_, column)| column as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| Row {
            number: first_row + i + 1,
            cells: std::iter::repeat_n(String::new(), first_column)
                .chain(cells.iter().map(cell_text))
                .collect(),
        })
        .collect())
}

fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        // A date cell is a day count since 1899-12-30; guides want `YYYY-MM-DD`.
        calamine::Data::DateTime(datetime) if datetime.is_datetime() => {
            let days = datetime.as_f64().floor() as i64;
            chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::days(days)))
                .map_or_else(|| datetime.to_string(), |date| date.format("%Y-%m-%d").to_string())
        }
        calamine::Data::DateTimeIso(text) => text.get(..10).unwrap_or(text).to_string(),
        other => other.to_string(),
    }
}

/// Trimmed (including the ideographic space), with Windows line ends made plain.
fn clean(cell: &str) -> String {
    cell.replace("\r\n", "\n").replace('\r', "\n").trim().to_string()
}

// ---------------------------------------------------------------------------------------
// The mapping.

/// The operator's mapping file, see `knowledge/import-sample/mapping.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub source: SourceOptions,
    pub id: IdRule,
    pub columns: Columns,
    #[serde(default)]
    pub split: SplitRules,
    pub defaults: Defaults,
    /// 实施主体 as written in the export → department id in `departments.toml`.
    pub departments: BTreeMap<String, String>,
    /// 办理对象 as written in the export → 个人 or 法人.
    #[serde(default)]
    pub audience: BTreeMap<String, Audience>,
    /// The words a material's note uses for its form → 原件, 复印件, 原件及复印件 or 电子文件.
    #[serde(default)]
    pub material_forms: BTreeMap<String, String>,
    /// A word in a material's name → the e-licence type that replaces it (免于提交).
    #[serde(default)]
    pub e_licenses: BTreeMap<String, String>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOptions {
    /// The worksheet of an .xlsx (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// The row holding the column names, as the spreadsheet numbers it.
    #[serde(default = "one")]
    pub header_row: usize,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            sheet: None,
            header_row: 1,
        }
    }
}

fn one() -> usize {
    1
}

/// Ids are `prefix` plus the code column in lowercase, every other character a hyphen.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdRule {
    pub column: String,
    #[serde(default)]
    pub prefix: String,
}

/// Column names of the export for each guide field; optional ones may be left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub title: String,
    pub department: String,
    pub legal_days: String,
    pub promised_days: String,
    pub audience: Option<String>,
    pub summary: Option<String>,
    pub aliases: Option<String>,
    pub legal_basis: Option<String>,
    pub conditions: Option<String>,
    pub materials: Option<String>,
    pub steps: Option<String>,
    pub time_note: Option<String>,
    pub fees: Option<String>,
    pub locations: Option<String>,
    pub hours: Option<String>,
    pub phone: Option<String>,
    pub online: Option<String>,
    pub reviewed: Option<String>,
}

impl Columns {
    fn all(&self) -> Vec<&String> {
        let optional = [
            &self.audience,
            &self.summary,
            &self.aliases,
            &self.legal_basis,
            &self.conditions,
            &self.materials,
            &self.steps,
            &self.time_note,
            &self.fees,
            &self.locations,
            &self.hours,
            &self.phone,
            &self.online,
            &self.reviewed,
        ];
        [&self.title, &self.department, &self.legal_days, &self.promised_days]
            .into_iter()
            .chain(optional.into_iter().flatten())
            .collect()
    }
}

/// How a cell holding several items (materials, conditions, steps …) is cut.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRules {
    #[serde(default = "default_separators")]
    pub separators: Vec<String>,
    /// Also cut at `1.` `2、` `（3）` `④` … counting up from 1, within one line.
    #[serde(default = "yes")]
    pub numbered: bool,
    /// Other separators for one field, by its key in `[columns]` (e.g. `steps = ["→"]`).
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Default for SplitRules {
    fn default() -> Self {
        SplitRules {
            separators: default_separators(),
            numbered: true,
            fields: BTreeMap::new(),
        }
    }
}

fn default_separators() -> Vec<String> {
    ["\n", "；", ";"].map(String::from).to_vec()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Review date of guides whose row has none, `YYYY-MM-DD`.
    #[serde(deserialize_with = "crate::guide::date_string")]
    pub reviewed: String,
    /// Summary of guides whose row has none; `{列名}` is replaced by that column's cell.
    pub summary: String,
    /// 办理对象 when the cell is empty (otherwise an empty cell is a row error).
    #[serde(default)]
    pub audience: Option<Audience>,
    /// Name of an online entry whose cell has only the address.
    #[serde(default = "default_online_name")]
    pub online_name: String,
    /// Form of a material whose cell does not say it.
    #[serde(default = "default_material_form")]
    pub material_form: String,
    /// Units after a material's count: `原件2份`.
    #[serde(default = "default_count_units")]
    pub count_units: Vec<String>,
    /// Fee item of a fee cell that names no item.
    #[serde(default = "default_fee_item")]
    pub fee_item: String,
    /// Cells that mean "nothing here".
    #[serde(default = "default_empty")]
    pub empty: Vec<String>,
    /// Fee cells that mean 免费.
    #[serde(default = "default_free")]
    pub free: Vec<String>,
    /// Time-limit cells that mean 即办 (0 working days).
    #[serde(default = "default_immediate")]
    pub immediate: Vec<String>,
}

fn default_online_name() -> String {
    "网上办理".into()
}
fn default_material_form() -> String {
    "原件".into()
}
fn default_count_units() -> Vec<String> {
    ["份", "张", "本", "件", "套"].map(String::from).to_vec()
}
fn default_fee_item() -> String {
    "办理费用".into()
}
fn default_empty() -> Vec<String> {
    ["无", "/", "-", "—", "暂无"].map(String::from).to_vec()
}
fn default_free() -> Vec<String> {
    ["免费", "不收费", "0元", "免收"].map(String::from).to_vec()
}
fn default_immediate() -> Vec<String> {
    ["即办", "即办件", "当场办结", "立即办结"].map(String::from).to_vec()
}

impl Mapping {
    pub fn load(path: &Path) -> Result<Mapping> {
        let text = std::fs::read_to_string(path).map_err(|source| io("read", path, source))?;
        let mut mapping: Mapping = toml::from_str(&text).map_err(|err| Error::Mapping {
            path: path.to_path_buf(),
            line: err
                .span()
                .map_or(1, |s| corpus::line_of_offset(&text.as_bytes()[..s.start])),
            message: format!("格式错误：{}", err.message()),
        })?;
        mapping.path = path.to_path_buf();
        mapping.text = text;
        let prefix_ok = mapping
            .id
            .prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !prefix_ok {
            return Err(mapping.error("prefix", "[id] prefix 只能由小写字母、数字和连字符组成".into()));
        }
        if mapping.source.header_row == 0 {
            return Err(mapping.error("header_row", "header_row 从 1 数起".into()));
        }
        if !MATERIAL_FORMS.contains(&mapping.defaults.material_form.as_str()) {
            let message = format!("material_form 应为 {}", MATERIAL_FORMS.join("、"));
            return Err(mapping.error("material_form", message));
        }
        for (word, form) in &mapping.material_forms {
            if !MATERIAL_FORMS.contains(&form.as_str()) {
                let message = format!("[material_forms] “{word}” 应对应 {}", MATERIAL_FORMS.join("、"));
                return Err(mapping.error(&format!("\"{word}\""), message));
            }
        }
        for field in mapping.split.fields.keys() {
            if !FIELD_KEYS.contains(&field.as_str()) {
                let message = format!("[split.fields] 没有字段 “{field}”（可用：{}）", FIELD_KEYS.join("、"));
                return Err(mapping.error(field, message));
            }
        }
        Ok(mapping)
    }

    fn error(&self, needle: &str, message: String) -> Error {
        Error::Mapping {
            path: self.path.clone(),
            line: corpus::find_line(&self.text, needle),
            message,
        }
    }

    /// Every department and e-licence type the mapping names exists in the folder.
    fn check_against(&self, departments: &[Department], e_licenses: &[crate::ELicenseType]) -> Result<()> {
        for (name, id) in &self.departments {
            if !departments.iter().any(|d| &d.id == id) {
                let message = format!("[departments] “{name}” 对应的部门 “{id}” 不在 departments.toml 中");
                return Err(self.error(&format!("\"{id}\""), message));
            }
        }
        for (word, id) in &self.e_licenses {
            if !e_licenses.iter().any(|e| &e.id == id) {
                let message = format!("[e_licenses] “{word}” 对应的电子证照类型 “{id}” 不在 e_licenses.toml 中");
                return Err(self.error(&format!("\"{id}\""), message));
            }
        }
        Ok(())
    }

    /// Every column the mapping names, including those in the summary template, is in the header.
    fn check_columns(&self, sheet: &Sheet) -> Result<()> {
        let mut wanted: Vec<&str> = self.columns.all().into_iter().map(String::as_str).collect();
        wanted.push(&self.id.column);
        let placeholders = placeholders(&self.defaults.summary);
        wanted.extend(placeholders.iter().copied());
        let missing: Vec<&str> = wanted.into_iter().filter(|c| sheet.column(c).is_none()).collect();
        if let Some(first) = missing.first() {
            let needle = if placeholders.contains(first) {
                format!("{{{first}}}")
            } else {
                format!("\"{first}\"")
            };
            let message = format!(
                "表头（第 {} 行）没有列 “{}”；表头有：{}",
                self.source.header_row,
                missing.join("”、“"),
                sheet.columns.join("、")
            );
            return Err(self.error(&needle, message));
        }
        Ok(())
    }

    /// The row's guide and its 事项编码, or every reason it cannot be one.
    fn convert(
        &self,
        sheet: &Sheet,
        row: &Row,
        departments: &[Department],
    ) -> std::result::Result<(Guide, String), Vec<String>> {
        let cells = Cells {
            sheet,
            row,
            empty: &self.defaults.empty,
        };
        let mut problems = Vec::new();
        let columns = &self.columns;

        let code = cells.get(&self.id.column).unwrap_or_default().to_string();
        let id = if code.is_empty() {
            problems.push(format!("{}为空", self.id.column));
            String::new()
        } else {
            let slug = slug(&code);
            if slug.is_empty() {
                problems.push(format!("{} “{code}” 里没有字母或数字，无法生成 id", self.id.column));
            }
            format!("{}{slug}", self.id.prefix)
        };

        let title = cells.get(&columns.title).unwrap_or_default().to_string();
        if title.is_empty() {
            problems.push(format!("{}为空", columns.title));
        }

        let department_cell = cells.get(&columns.department).unwrap_or_default();
        let department = match self.departments.get(department_cell) {
            Some(id) => departments.iter().find(|d| &d.id == id),
            None if department_cell.is_empty() => {
                problems.push(format!("{}为空", columns.department));
                None
            }
            None => {
                problems.push(format!(
                    "{} “{department_cell}” 不在映射的 [departments] 中",
                    columns.department
                ));
                None
            }
        };

        let audience = match columns.audience.as_ref().and_then(|c| cells.get(c)) {
            Some(cell) => {
                let items = self.items("audience", cell);
                match items.iter().find_map(|item| self.audience.get(item)) {
                    Some(audience) => Some(*audience),
                    None => {
                        problems.push(format!(
                            "{} “{cell}” 不在映射的 [audience] 中",
                            columns.audience.as_deref().unwrap_or_default()
                        ));
                        None
                    }
                }
            }
            None => {
                if self.defaults.audience.is_none() {
                    problems.push(format!(
                        "{}为空，映射 [defaults] 也没有 audience",
                        columns.audience.as_deref().unwrap_or("办理对象")
                    ));
                }
                self.defaults.audience
            }
        };

        let legal_days = self.days(&cells, &columns.legal_days, &mut problems);
        let promised_days = self.days(&cells, &columns.promised_days, &mut problems);

        let reviewed = match columns.reviewed.as_ref().and_then(|c| cells.get(c)) {
            Some(date) if is_date(date) => date.to_string(),
            Some(date) => {
                problems.push(format!(
                    "{} “{date}” 不是 YYYY-MM-DD 日期",
                    columns.reviewed.as_deref().unwrap_or_default()
                ));
                String::new()
            }
            None => self.defaults.reviewed.clone(),
        };

        let materials = self
            .list(&cells, "materials", columns.materials.as_ref())
            .iter()
            .map(|item| self.material(item))
            .collect();

        let mut fees = Vec::new();
        if let Some(cell) = columns.fees.as_ref().and_then(|c| cells.get(c)) {
            if self.defaults.free.iter().any(|word| word == cell) {
                fees.push(self.fee(&self.defaults.fee_item, "免费"));
            } else {
                for item in self.items("fees", cell) {
                    fees.push(match item.split_once(['：', ':']) {
                        Some((name, amount)) if !name.trim().is_empty() && !amount.trim().is_empty() => {
                            self.fee(name.trim(), amount.trim())
                        }
                        _ => self.fee(&self.defaults.fee_item, &item),
                    });
                }
            }
        }

        let mut online = Vec::new();
        for item in self.list(&cells, "online", columns.online.as_ref()) {
            match item.find("http://").or_else(|| item.find("https://")) {
                Some(start) => {
                    let name = item[..start].trim().trim_end_matches(['：', ':']).trim();
                    let url = item[start..].split_whitespace().next().unwrap_or_default();
                    online.push(OnlineEntry {
                        name: if name.is_empty() {
                            self.defaults.online_name.clone()
                        } else {
                            name.to_string()
                        },
                        url: url.to_string(),
                    });
                }
                None => problems.push(format!(
                    "{} “{item}” 不是 http(s) 网址",
                    columns.online.as_deref().unwrap_or_default()
                )),
            }
        }

        let hours = columns
            .hours
            .as_ref()
            .and_then(|c| cells.get(c))
            .map(str::to_string)
            .or_else(|| department.map(|d| d.hours.clone()));
        let phone = columns.phone.as_ref().and_then(|c| cells.get(c)).map(str::to_string);
        let mut halls = Vec::new();
        for item in self.list(&cells, "locations", columns.locations.as_ref()) {
            let (name, address) = match item.split_once(['：', ':']) {
                Some((name, address)) if !name.trim().is_empty() && !address.trim().is_empty() => {
                    (name.trim().to_string(), address.trim().to_string())
                }
                _ => (department_cell.to_string(), item.clone()),
            };
            halls.push(Hall {
                name,
                address,
                hours: hours.clone().unwrap_or_default(),
                phone: phone.clone(),
            });
        }

        let summary = match columns.summary.as_ref().and_then(|c| cells.get(c)) {
            Some(summary) => summary.to_string(),
            None => fill(&self.defaults.summary, &cells),
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        let guide = Guide {
            id,
            title,
            summary,
            summary_en: None,
            aliases: self.list(&cells, "aliases", columns.aliases.as_ref()),
            audience: audience.expect("checked above"),
            department: department.expect("checked above").id.clone(),
            kind: GuideKind::Service,
            members: Vec::new(),
            cross_province: false,
            legal_basis: self.list(&cells, "legal_basis", columns.legal_basis.as_ref()),
            conditions: self.list(&cells, "conditions", columns.conditions.as_ref()),
            steps: self.list(&cells, "steps", columns.steps.as_ref()),
            related: Vec::new(),
            reviewed,
            time_limit: TimeLimit {
                legal_days: legal_days.expect("checked above"),
                promised_days: promised_days.expect("checked above"),
                note: columns
                    .time_note
                    .as_ref()
                    .and_then(|c| cells.get(c))
                    .map(str::to_string),
            },
            materials,
            fees,
            channels: Channels { online, halls },
            faq: Vec::new(),
        };
        Ok((guide, code))
    }

    fn fee(&self, item: &str, amount: &str) -> Fee {
        let amount = if self.defaults.free.iter().any(|word| word == amount) {
            "免费"
        } else {
            amount
        };
        Fee {
            item: item.to_string(),
            amount: amount.to_string(),
            note: None,
        }
    }

    /// A time limit in working days: `20`, `20个工作日`, `20工作日`, or a 即办 word (0).
    fn days(&self, cells: &Cells<'_>, column: &str, problems: &mut Vec<String>) -> Option<u32> {
        let Some(cell) = cells.get(column) else {
            problems.push(format!("{column}为空"));
            return None;
        };
        if self.defaults.immediate.iter().any(|word| word == cell) {
            return Some(0);
        }
        let number = cell
            .strip_suffix("个工作日")
            .or_else(|| cell.strip_suffix("工作日"))
            .unwrap_or(cell)
            .trim();
        match number.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => {
                problems.push(format!(
                    "{column} “{cell}” 不是工作日数（应写成“20个工作日”、20 或“即办”）"
                ));
                None
            }
        }
    }

    /// The items of an optional column's cell (none when the column is not mapped or empty).
    fn list(&self, cells: &Cells<'_>, field: &str, column: Option<&String>) -> Vec<String> {
        column
            .and_then(|c| cells.get(c))
            .map(|cell| self.items(field, cell))
            .unwrap_or_default()
    }

    fn items(&self, field: &str, cell: &str) -> Vec<String> {
        let separators = self.split.fields.get(field).unwrap_or(&self.split.separators);
        split_items(cell, separators, self.split.numbered)
    }

    /// `居民身份证（原件1份）` → name, form, count; words in the brackets that are neither
    /// become the note, and brackets without form or count stay in the name (`营业执照（副本）`).
    fn material(&self, item: &str) -> Material {
        let mut name = item.to_string();
        let mut form = None;
        let mut count = None;
        let mut note = None;
        if let Some((open, inside)) = trailing_brackets(item) {
            let mut rest = inside.to_string();
            if let Some((word, canonical)) = self.form_in(inside) {
                rest = rest.replacen(word, "，", 1);
                form = Some(canonical.to_string());
            }
            if let Some((text, n)) = self.count_in(&rest) {
                rest = rest.replacen(&text, "，", 1);
                count = Some(n);
            }
            if form.is_some() || count.is_some() {
                name = item[..open].trim().to_string();
                // What is left (`各`, `需加盖公章`) is the note; lone characters are glue.
                let parts: Vec<&str> = rest
                    .split(['，', ',', '；', ';', '、'])
                    .map(str::trim)
                    .filter(|part| part.chars().count() > 1)
                    .collect();
                note = (!parts.is_empty()).then(|| parts.join("，"));
            }
        }
        // `居民身份证复印件`: the form at the end of the name (the name stays as written).
        if form.is_none()
            && let Some((word, canonical)) = self.form_in(&name)
            && name.ends_with(word)
        {
            form = Some(canonical.to_string());
        }
        let e_license = self
            .e_licenses
            .iter()
            .filter(|(word, _)| name.contains(word.as_str()))
            .max_by_key(|(word, _)| word.chars().count())
            .map(|(_, id)| id.clone());
        Material {
            name,
            form: form.unwrap_or_else(|| self.defaults.material_form.clone()),
            count: count.unwrap_or(1),
            e_license,
            note,
        }
    }

    /// The longest form word in `text` and its canonical form.
    fn form_in(&self, text: &str) -> Option<(&str, &str)> {
        let built_in = MATERIAL_FORMS.iter().map(|form| (*form, *form));
        self.material_forms
            .iter()
            .map(|(word, form)| (word.as_str(), form.as_str()))
            .chain(built_in)
            .filter(|(word, _)| text.contains(word))
            .max_by_key(|(word, _)| word.chars().count())
    }

    /// `2份`, `一份`: the text matched and the count.
    fn count_in(&self, text: &str) -> Option<(String, u32)> {
        let chars: Vec<char> = text.chars().collect();
        for unit in &self.defaults.count_units {
            let Some(unit_char) = unit.chars().next() else { continue };
            for (i, c) in chars.iter().enumerate() {
                if *c != unit_char || i == 0 {
                    continue;
                }
                let start = (0..i).rev().take_while(|&j| chars[j].is_ascii_digit()).last();
                let (digits, n) = match start {
                    Some(start) => {
                        let digits: String = chars[start..i].iter().collect();
                        let n = digits.parse().ok();
                        (digits, n)
                    }
                    None => (chars[i - 1].to_string(), chinese_digit(chars[i - 1])),
                };
                if let Some(n) = n.filter(|&n| n > 0) {
                    return Some((format!("{digits}{unit}"), n));
                }
            }
        }
        None
    }
}

/// The field keys `[split.fields]` may name.
const FIELD_KEYS: [&str; 9] = [
    "audience",
    "aliases",
    "legal_basis",
    "conditions",
    "materials",
    "steps",
    "fees",
    "locations",
    "online",
];

struct Cells<'a> {
    sheet: &'a Sheet,
    row: &'a Row,
    empty: &'a [String],
}

impl Cells<'_> {
    /// The trimmed cell of a column; `None` when empty or a "nothing here" word.
    fn get(&self, column: &str) -> Option<&str> {
        let index = self.sheet.column(column)?;
        let cell = self.row.cells.get(index)?.trim();
        (!cell.is_empty() && !self.empty.iter().any(|word| word == cell)).then_some(cell)
    }
}

fn placeholders(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else { break };
        found.push(&rest[start + 1..start + end]);
        rest = &rest[start + end + 1..];
    }
    found
}

/// The template with each `{列名}` replaced by that cell (its lines joined with `；`).
fn fill(template: &str, cells: &Cells<'_>) -> String {
    let mut text = template.to_string();
    for column in placeholders(template) {
        let value = cells.get(column).map(|cell| {
            let lines: Vec<String> = cell.lines().map(clean).filter(|l| !l.is_empty()).collect();
            lines.join("；")
        });
        text = text.replace(&format!("{{{column}}}"), value.as_deref().unwrap_or(""));
    }
    text.trim().to_string()
}

fn slug(code: &str) -> String {
    let mut slug = String::new();
    for c in code.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

fn is_date(text: &str) -> bool {
    text.len() == 10
        && text
            .char_indices()
            .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() })
}

/// Splits a cell at the separators, then at numbered items counting up from 1 (`1.` `2、`
/// `（3）` `④`), and strips the numbers and trailing punctuation. Never returns empty items.
pub fn split_items(cell: &str, separators: &[String], numbered: bool) -> Vec<String> {
    let cell = cell.replace("\r\n", "\n");
    let mut pieces = vec![cell.as_str()];
    for separator in separators.iter().filter(|s| !s.is_empty()) {
        pieces = pieces
            .into_iter()
            .flat_map(|piece| piece.split(separator.as_str()))
            .collect();
    }
    let mut items = Vec::new();
    for piece in pieces {
        let piece = piece.trim();
        if numbered && marker_len(piece, 0, 1).is_some() {
            items.extend(split_numbered(piece));
        } else {
            items.push(piece);
        }
    }
    items
        .into_iter()
        .map(|item| {
            let item = item.trim();
            let item = if numbered { strip_any_marker(item) } else { item };
            item.trim()
                .trim_end_matches(['；', ';', '，', ',', '。', '、'])
                .trim()
                .to_string()
        })
        .filter(|item| !item.is_empty())
        .collect()
}

/// `1.甲 2.乙（3）丙` → `1.甲`, `2.乙`, `（3）丙`.
fn split_numbered(piece: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut next = 2;
    let mut at = 0;
    while at < piece.len() {
        if piece.is_char_boundary(at) && marker_len(piece, at, next).is_some() {
            items.push(&piece[start..at]);
            start = at;
            next += 1;
        }
        at += piece[at..].chars().next().map_or(1, char::len_utf8);
    }
    items.push(&piece[start..]);
    items
}

/// The byte length of the marker of item `n` at `at`, if there is one. A digit marker must
/// not follow or precede another digit (`1.5元`, `21.`) to count.
fn marker_len(text: &str, at: usize, n: u32) -> Option<usize> {
    let rest = &text[at..];
    if let Some(circled) = char::from_u32(0x2460 + n - 1).filter(|_| (1..=20).contains(&n))
        && rest.starts_with(circled)
    {
        return Some(circled.len_utf8());
    }
    for (open, close) in [("（", "）"), ("(", ")")] {
        let marker = format!("{open}{n}{close}");
        if rest.starts_with(&marker) {
            return Some(marker.len());
        }
    }
    let digits = n.to_string();
    let before_is_digit = text[..at].chars().next_back().is_some_and(|c| c.is_ascii_digit());
    if before_is_digit || !rest.starts_with(&digits) {
        return None;
    }
    let after = &rest[digits.len()..];
    for dot in [".", "、", "．"] {
        if let Some(tail) = after.strip_prefix(dot)
            && !tail.starts_with(|c: char| c.is_ascii_digit())
        {
            return Some(digits.len() + dot.len());
        }
    }
    None
}

fn strip_any_marker(item: &str) -> &str {
    let digits: String = item.chars().take_while(char::is_ascii_digit).collect();
    let mut candidates: Vec<u32> = (1..=20).collect();
    if let Ok(n) = digits.parse::<u32>() {
        candidates.push(n);
    }
    for n in candidates {
        if let Some(len) = marker_len(item, 0, n) {
            return &item[len..];
        }
    }
    item
}

/// `居民身份证（原件1份）` → the byte offset of `（` and `原件1份`.
fn trailing_brackets(item: &str) -> Option<(usize, &str)> {
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let Some(body) = item.strip_suffix(close)
            && let Some(start) = body.rfind(open)
            && start > 0
        {
            return Some((start, &body[start + open.len_utf8()..]));
        }
    }
    None
}

fn chinese_digit(c: char) -> Option<u32> {
    "一二三四五六七八九十"
        .chars()
        .position(|d| d == c)
        .map(|i| i as u32 + 1)
        .or((c == '两').then_some(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(cell: &str) -> Vec<String> {
        split_items(cell, &default_separators(), true)
    }

    #[test]
    fn cells_split_at_lines_semicolons_and_counted_numbers() {
        assert_eq!(split("1.居民身份证\n2.户口簿"), ["居民身份证", "户口簿"]);
        assert_eq!(split("（1）申请；（2）受理；（3）办结。"), ["申请", "受理", "办结"]);
        assert_eq!(
            split("1.工本费1.5元 2、邮寄费 3．其他"),
            ["工本费1.5元", "邮寄费", "其他"]
        );
        assert_eq!(split("①填表②审核"), ["填表", "审核"]);
        // Numbers that do not count up from 1 are text, not items.
        assert_eq!(split("年满18周岁；持有2.0版证书"), ["年满18周岁", "持有2.0版证书"]);
        assert_eq!(split("\n\n  \n"), Vec::<String>::new());
    }

    #[test]
    fn ids_are_lowercase_ascii_with_single_hyphens() {
        assert_eq!(slug("GA-0201"), "ga-0201");
        assert_eq!(slug(" 11/3301（许可）XK_07 "), "11-3301-xk-07");
        assert_eq!(slug("事项"), "");
    }

    fn sample_mapping() -> Mapping {
        Mapping::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/import-sample/mapping.toml"
        )))
        .unwrap()
    }

    #[test]
    fn material_cells_give_name_form_count_e_licence_and_note() {
        let mapping = sample_mapping();
        let cases = [
            ("居民身份证（原件1份）", "居民身份证|原件|1|Some(\"id_card\")|None"),
            (
                "营业执照（副本）",
                "营业执照（副本）|原件|1|Some(\"business_license\")|None",
            ),
            ("申请人身份证复印件", "申请人身份证复印件|复印件|1|None|None"),
            (
                "结婚证（原件和复印件各两份）",
                "结婚证|原件及复印件|2|Some(\"marriage_certificate\")|None",
            ),
            ("照片（3张，白底）", "照片|原件|3|None|Some(\"白底\")"),
            ("设计图（扫描件）", "设计图|电子文件|1|None|None"),
        ];
        for (cell, expected) in cases {
            let m = mapping.material(cell);
            let shown = format!("{}|{}|{}|{:?}|{:?}", m.name, m.form, m.count, m.e_license, m.note);
            assert_eq!(shown, expected, "{cell}");
        }
    }

    #[test]
    fn time_limits_are_working_days_or_immediate() {
        let mapping = sample_mapping();
        let sheet = Sheet {
            path: PathBuf::from("t.csv"),
            columns: vec!["时限".into()],
            rows: Vec::new(),
        };
        let days = |cell: &str| {
            let row = Row {
                number: 2,
                cells: vec![cell.into()],
            };
            let cells = Cells {
                sheet: &sheet,
                row: &row,
                empty: &mapping.defaults.empty,
            };
            let mut problems = Vec::new();
            let days = mapping.days(&cells, "时限", &mut problems);
            (days, problems.len())
        };
        assert_eq!(days("20个工作日"), (Some(20), 0));
        assert_eq!(days(" 15工作日 "), (Some(15), 0));
        assert_eq!(days("7"), (Some(7), 0));
        assert_eq!(days("即办"), (Some(0), 0));
        for bad in ["30天", "三个工作日", "15个自然日", "无", ""] {
            assert_eq!(days(bad), (None, 1), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn split_items_never_panics_and_never_yields_empty_items(cell in "\\PC{0,40}") {
            for item in split(&cell) {
                proptest::prop_assert!(!item.trim().is_empty());
            }
        }

        #[test]
        fn slugs_pass_the_loaders_id_rule(code in "\\PC{0,30}") {
            let slug = slug(&code);
            proptest::prop_assert!(slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            proptest::prop_assert!(!slug.starts_with('-') && !slug.ends_with('-') && !slug.contains("--"));
        }
    }
}

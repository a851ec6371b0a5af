//! `knowledge::import`: the sample catalogue exports in `knowledge/import-sample/` imported
//! into a copy of the sample corpus, then loaded by the loader as `banshi knowledge check` does.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use knowledge::import::{self, Report, Write};
use knowledge::{Corpus, Severity};

mod common;
use common::corpus_copy;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("import-sample").join(name)
}

fn run(source: &Path, dir: &Path) -> Report {
    import::import(source, &sample("mapping.toml"), dir, Write::Files).unwrap()
}

fn shown(report: &Report) -> Vec<String> {
    report.problems.iter().map(ToString::to_string).collect()
}

const SAMPLE_IDS: [&str; 11] = [
    "sf-ga-0201",
    "sf-ga-0215",
    "sf-jj-0108",
    "sf-mz-0302",
    "sf-rs-0410",
    "sf-yb-0505",
    "sf-gjj-0603",
    "sf-sc-0711",
    "sf-cg-0820",
    "sf-jy-0905",
    "sf-cl-1003",
];

/// Modification times of the folder's guide files, by file name.
fn mtimes(dir: &Path) -> Vec<(String, SystemTime)> {
    let mut times: Vec<(String, SystemTime)> = std::fs::read_dir(dir.join("guides"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    times.sort();
    times
}

/// Puts every guide file's modification time an hour back, so a rewrite cannot hide in the
/// file system's timestamp resolution.
fn age_guides(dir: &Path) {
    let past = SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir.join("guides")).unwrap() {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(past).unwrap();
    }
}

#[test]
fn the_sample_export_becomes_guides_that_load_without_errors() {
    let dir = corpus_copy();
    let n_before = Corpus::load(dir.path()).unwrap().corpus.len();
    let report = run(&sample("catalog.csv"), dir.path());
    assert_eq!(shown(&report), Vec::<String>::new());
    assert_eq!(report.n_rows, 11);
    let mut new = report.new.clone();
    new.sort();
    let mut expected = SAMPLE_IDS.map(String::from).to_vec();
    expected.sort();
    assert_eq!(new, expected);
    assert!(report.changed.is_empty() && report.unchanged.is_empty());

    let outcome = Corpus::load(dir.path()).unwrap();
    let errors: Vec<String> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(outcome.corpus.len(), n_before + 11);

    // What the cells said, field by field, for one row.
    let guide = outcome.corpus.guide("sf-ga-0201").unwrap();
    assert_eq!(guide.title, "居民户口簿补领");
    assert_eq!(guide.department, "public-security");
    assert_eq!(guide.audience, knowledge::Audience::Person);
    assert_eq!(guide.summary, "居民户口簿补领由示范市公安局受理，办理对象为自然人。");
    assert_eq!(guide.reviewed, "2026-11-20");
    assert_eq!((guide.time_limit.legal_days, guide.time_limit.promised_days), (20, 5));
    let materials: Vec<String> = guide
        .materials
        .iter()
        .map(|m| format!("{}|{}|{}|{:?}|{:?}", m.name, m.form, m.count, m.e_license, m.note))
        .collect();
    assert_eq!(
        materials,
        [
            "户主或本户成员居民身份证|原件|1|Some(\"id_card\")|None",
            "户口簿遗失情况说明|原件|1|Some(\"household_register\")|Some(\"由户主签名\")",
            "损毁的户口簿|原件|1|Some(\"household_register\")|Some(\"损毁补领的交回\")",
        ]
    );
    assert_eq!(
        guide.steps,
        ["提交申请", "户籍窗口审核", "制发新户口簿", "窗口领取或邮寄"]
    );
    assert!(guide.is_free(), "{:?}", guide.fees);
    let halls: Vec<(&str, &str)> = guide
        .channels
        .halls
        .iter()
        .map(|h| (h.name.as_str(), h.address.as_str()))
        .collect();
    assert_eq!(
        halls,
        [
            (
                "示范市政务服务中心公安综合窗口",
                "示范市中山区民生路88号政务服务中心一楼A区"
            ),
            ("各派出所户籍窗口", "就近办理"),
        ]
    );
    assert_eq!(guide.channels.halls[0].phone.as_deref(), Some("0570-110-8000"));
    assert_eq!(guide.channels.online[0].name, "示范办 App「户籍业务」");
    assert_eq!(
        guide.channels.online[0].url,
        "https://zwfw.shifan.example/hukou/hkb-buling"
    );

    // 即办, a fee with its item, steps split at arrows, a bare URL, several audiences.
    let certificate = outcome.corpus.guide("sf-ga-0215").unwrap();
    assert_eq!(certificate.time_limit.promised_days, 0);
    assert_eq!(
        certificate.steps,
        ["网上申请或窗口申请", "核对户籍信息", "当场出具证明"]
    );
    assert_eq!(certificate.channels.online[0].name, "示范办 App / 示范市网上办事大厅");
    let licence = outcome.corpus.guide("sf-jj-0108").unwrap();
    assert_eq!(
        (licence.fees[0].item.as_str(), licence.fees[0].amount.as_str()),
        ("工本费", "10元")
    );
    assert_eq!(licence.steps, ["网上申请", "审核", "制证", "邮寄或窗口领取"]);
    assert_eq!(
        (licence.materials[1].form.as_str(), licence.materials[1].count),
        ("原件", 2)
    );
    let fund = outcome.corpus.guide("sf-gjj-0603").unwrap();
    assert_eq!(fund.audience, knowledge::Audience::Person);
    let business = outcome.corpus.guide("sf-sc-0711").unwrap();
    assert_eq!(business.audience, knowledge::Audience::Company);
    assert_eq!(business.materials[2].form, "电子文件");
    let jobs = outcome.corpus.guide("sf-rs-0410").unwrap();
    assert_eq!(
        jobs.conditions,
        ["法定劳动年龄内、有劳动能力的城乡劳动者", "已办理就业或失业登记"]
    );
    assert_eq!(
        (
            jobs.materials[2].name.as_str(),
            jobs.materials[2].form.as_str(),
            jobs.materials[2].count
        ),
        ("毕业证书", "原件及复印件", 1)
    );
    assert_eq!(jobs.materials[2].note.as_deref(), Some("高校毕业生提供"));
}

#[test]
fn the_xlsx_export_gives_the_same_guide_files_as_the_csv() {
    let from_csv = corpus_copy();
    let from_xlsx = corpus_copy();
    run(&sample("catalog.csv"), from_csv.path());
    let report = run(&sample("catalog.xlsx"), from_xlsx.path());
    assert_eq!(shown(&report), Vec::<String>::new());
    assert_eq!(report.new.len(), 11);
    for id in SAMPLE_IDS {
        let name = format!("guides/{id}.toml");
        let csv = std::fs::read_to_string(from_csv.path().join(&name)).unwrap();
        let xlsx = std::fs::read_to_string(from_xlsx.path().join(&name)).unwrap();
        assert_eq!(csv, xlsx, "{id}");
    }
}

#[test]
fn broken_rows_are_reported_with_their_row_numbers_and_the_good_rows_are_written() {
    let dir = corpus_copy();
    let source = sample("catalog-broken.csv");
    let report = run(&source, dir.path());
    assert_eq!(report.n_rows, 7);
    assert_eq!(report.failed_rows, [3, 4, 5, 6, 7]);
    assert_eq!(report.new, ["sf-ga-0201", "sf-jj-0108"]);
    let shown = shown(&report);
    let expected = [
        (3, "事项名称为空"),
        (4, "实施主体 “示范市气象局” 不在映射的 [departments] 中"),
        (5, "法定时限 “30天” 不是工作日数"),
        (6, "id “sf-ga-0201” 与第 2 行重复"),
        (7, "承诺时限 20 个工作日超过法定时限 10 个工作日"),
    ];
    assert_eq!(shown.len(), expected.len(), "{shown:#?}");
    for (line, (row, reason)) in shown.iter().zip(expected) {
        let prefix = format!("{}:{row}: 错误：", source.display());
        assert!(line.starts_with(&prefix) && line.contains(reason), "{line}");
    }
    // The good rows are there and the folder still loads without errors.
    let outcome = Corpus::load(dir.path()).unwrap();
    assert_eq!(outcome.n_errors(), 0, "{:?}", outcome.diagnostics);
    assert!(outcome.corpus.guide("sf-ga-0201").is_some() && outcome.corpus.guide("sf-jj-0108").is_some());
    for id in ["sf-ga-0290", "sf-qx-0101", "sf-ga-0240", "sf-wj-0501"] {
        assert!(!dir.path().join(format!("guides/{id}.toml")).exists(), "{id}");
    }
}

#[test]
fn a_second_import_of_the_same_file_rewrites_nothing() {
    let dir = corpus_copy();
    run(&sample("catalog.csv"), dir.path());
    age_guides(dir.path());
    let before = mtimes(dir.path());
    let fingerprint = knowledge::fingerprint(dir.path()).unwrap();

    let report = run(&sample("catalog.csv"), dir.path());
    assert_eq!(report.unchanged.len(), 11);
    assert!(report.new.is_empty() && report.changed.is_empty() && report.problems.is_empty());
    assert_eq!(mtimes(dir.path()), before);
    assert_eq!(knowledge::fingerprint(dir.path()).unwrap(), fingerprint);
}

#[test]
fn a_changed_cell_changes_exactly_that_guide() {
    let dir = corpus_copy();
    run(&sample("catalog.csv"), dir.path());
    age_guides(dir.path());
    let before = mtimes(dir.path());

    let text = std::fs::read_to_string(sample("catalog.csv")).unwrap();
    assert_eq!(text.matches("工本费：10元").count(), 1);
    let edited = dir.path().join("edited.csv");
    std::fs::write(&edited, text.replace("工本费：10元", "工本费：15元")).unwrap();
    let report = run(&edited, dir.path());
    assert_eq!(report.changed, ["sf-jj-0108"]);
    assert_eq!(report.unchanged.len(), 10);
    assert!(report.new.is_empty() && report.problems.is_empty());

    let after = mtimes(dir.path());
    let touched: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.as_str())
        .collect();
    assert_eq!(touched, ["sf-jj-0108.toml"]);
    let guide = Corpus::load(dir.path())
        .unwrap()
        .corpus
        .guide("sf-jj-0108")
        .unwrap()
        .clone();
    assert_eq!(guide.fees[0].amount, "15元");
}

#[test]
fn a_dry_run_writes_nothing_and_says_what_would_change() {
    let dir = corpus_copy();
    let before = mtimes(dir.path());
    let report = import::import(
        &sample("catalog.csv"),
        &sample("mapping.toml"),
        dir.path(),
        Write::DryRun,
    )
    .unwrap();
    assert_eq!(report.new.len(), 11);
    assert_eq!(mtimes(dir.path()), before);
}

#[test]
fn a_hand_written_guide_is_never_overwritten() {
    let dir = corpus_copy();
    let hand_written = std::fs::read_to_string(dir.path().join("guides/passport.toml"))
        .unwrap()
        .replace("id = \"passport\"", "id = \"sf-ga-0201\"");
    let path = dir.path().join("guides/sf-ga-0201.toml");
    std::fs::write(&path, &hand_written).unwrap();
    let report = run(&sample("catalog.csv"), dir.path());
    assert_eq!(report.failed_rows, [2]);
    assert!(
        shown(&report)[0].contains(":2: 错误：id “sf-ga-0201” 已是手写的指南"),
        "{:?}",
        shown(&report)
    );
    assert_eq!(report.new.len(), 10);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), hand_written);
}

#[test]
fn mapping_mistakes_stop_the_import_with_the_mapping_line() {
    let dir = corpus_copy();
    let mapping = std::fs::read_to_string(sample("mapping.toml")).unwrap();
    let check = |edited: &str, line_needle: &str, reason: &str| {
        let path = dir.path().join("mapping.toml");
        std::fs::write(&path, edited).unwrap();
        let err = import::import(&sample("catalog.csv"), &path, dir.path(), Write::Files).unwrap_err();
        assert!(err.is_operator_mistake(), "{err}");
        let line = edited.lines().position(|l| l.contains(line_needle)).unwrap() + 1;
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:{line}: 错误：", path.display())),
            "{shown}"
        );
        assert!(shown.contains(reason), "{shown}");
    };
    check(
        &mapping.replace("\"traffic-police\"", "\"traffic\""),
        "\"traffic\"",
        "部门 “traffic” 不在 departments.toml 中",
    );
    check(
        &mapping.replace("promised_days = \"承诺时限\"", "promised_days = \"承诺办结时限\""),
        "\"承诺办结时限\"",
        "没有列 “承诺办结时限”",
    );
    check(
        &mapping.replace("prefix = \"sf-\"", "prefix = \"SF_\""),
        "prefix",
        "prefix",
    );
    check(
        &mapping.replace("\n[columns]\n", "\n[columns]\ncolour = \"x\"\n"),
        "colour",
        "格式错误",
    );
    // Nothing was written.
    assert!(!dir.path().join("guides/sf-ga-0201.toml").exists());
}

#[test]
fn a_csv_that_is_not_utf8_is_refused_with_a_hint() {
    let dir = corpus_copy();
    let gbk = dir.path().join("gbk.csv");
    // “事项名称” in GBK.
    std::fs::write(&gbk, b"\xca\xc2\xcf\xee\xc3\xfb\xb3\xc6\n").unwrap();
    let err = import::import(&gbk, &sample("mapping.toml"), dir.path(), Write::Files).unwrap_err();
    assert!(err.is_operator_mistake());
    assert!(err.to_string().contains("CSV UTF-8"), "{err}");
}

#[test]
fn faq_added_by_hand_to_an_imported_guide_survives_a_reimport() {
    let dir = corpus_copy();
    run(&sample("catalog.csv"), dir.path());
    let path = dir.path().join("guides/sf-ga-0215.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[[faq]]\nq = \"户籍证明能在网上开吗？\"\na = \"能，在示范办 App 申请后下载电子证明。\"\n");
    std::fs::write(&path, &text).unwrap();

    let report = run(&sample("catalog.csv"), dir.path());
    // Appended in the importer's own layout, so the file is even left as it is.
    assert_eq!(report.unchanged.len(), 11, "{report:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let guide = Corpus::load(dir.path())
        .unwrap()
        .corpus
        .guide("sf-ga-0215")
        .unwrap()
        .clone();
    assert_eq!(guide.faq.len(), 1);
    assert_eq!(guide.faq[0].q, "户籍证明能在网上开吗？");

    // A changed cell of that row rewrites the guide and still keeps the FAQ.
    let edited = dir.path().join("edited.csv");
    let csv = std::fs::read_to_string(sample("catalog.csv")).unwrap();
    assert_eq!(csv.matches("核对户籍信息").count(), 1);
    std::fs::write(&edited, csv.replace("核对户籍信息", "核对户籍和身份信息")).unwrap();
    let report = run(&edited, dir.path());
    assert_eq!(report.changed, ["sf-ga-0215"]);
    let guide = Corpus::load(dir.path())
        .unwrap()
        .corpus
        .guide("sf-ga-0215")
        .unwrap()
        .clone();
    assert_eq!(guide.steps[1], "核对户籍和身份信息");
    assert_eq!(guide.faq.len(), 1);
}

#[test]
fn a_missing_knowledge_folder_is_a_fault_of_the_machine_not_a_mapping_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let err = import::import(
        &sample("catalog.csv"),
        &sample("mapping.toml"),
        &dir.path().join("nowhere"),
        Write::Files,
    )
    .unwrap_err();
    assert!(!err.is_operator_mistake(), "{err}");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

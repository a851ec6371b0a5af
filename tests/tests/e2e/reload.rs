//! A changed guide file is picked up without a restart; a broken one never takes a guide
//! out of service.

use std::path::Path;
use std::time::Duration;

use api::state::KnowledgeSource;
use axum::http::StatusCode;
use backend::testing::TestDb;

use crate::common::{get, knowledge_dir};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the sample knowledge folder, loaded without an encoder.
fn sample_copy() -> (tempfile::TempDir, KnowledgeSource) {
    let folder = tempfile::tempdir().unwrap();
    copy_dir(&knowledge_dir(), folder.path());
    let source = KnowledgeSource {
        dir: folder.path().to_path_buf(),
        strict: false,
        index: index::IndexConfig::default(),
        model: None,
    };
    (folder, source)
}

async fn wait_for(app: &axum::Router, uri: &str, check: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    for _ in 0..100 {
        let response = get(app, uri).await;
        if check(&response.json) {
            return response.json;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{uri} never reached the expected state");
}

#[tokio::test]
async fn edited_guide_is_served_without_restart_and_broken_edit_keeps_last_good() {
    let (folder, source) = sample_copy();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let fingerprint = source.fingerprint();
    let state = api::AppState::new(source.load().unwrap(), store.clone(), 10_000);
    let app = api::app(state.clone());
    let task = tokio::spawn(api::tasks::reload_knowledge(
        state,
        source,
        fingerprint,
        Duration::from_millis(50),
    ));

    let file = folder.path().join("guides/passport.toml");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replacen("summary = \"", "summary = \"【已更新】", 1)).unwrap();
    let updated = wait_for(&app, "/api/v1/guides/passport", |g| {
        g["summary"].as_str().is_some_and(|s| s.starts_with("【已更新】"))
    })
    .await;
    assert_eq!(updated["id"], "passport");

    // A syntax error in the same file: the last good version keeps serving.
    std::fs::write(&file, original.replacen("kind = \"service\"", "kind = \"service", 1)).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let still = get(&app, "/api/v1/guides/passport").await;
    assert_eq!(still.status, StatusCode::OK);
    assert!(still.json["summary"].as_str().unwrap().starts_with("【已更新】"));
    let search = get(&app, "/api/v1/search?q=%E6%8A%A4%E7%85%A7").await;
    assert_eq!(search.json["hits"][0]["id"], "passport");

    // A new guide appears.
    let extra = original
        .replace("id = \"passport\"", "id = \"passport-copy\"")
        .replace("普通护照申请", "游艇驾驶证申请");
    std::fs::write(folder.path().join("guides/passport-copy.toml"), extra).unwrap();
    wait_for(&app, "/api/v1/guides/passport-copy", |g| g["title"] == "游艇驾驶证申请").await;
    task.abort();
    store.close().await;
}

/// Two replicas on one database, each watching the knowledge folder they are deployed with:
/// an edit reaches both, and both report the same knowledge version afterwards.
#[tokio::test]
async fn a_reload_reaches_every_replica() {
    let (folder, source) = sample_copy();
    for db in TestDb::all().await {
        let mut replicas = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let store = db.open().await;
            let fingerprint = source.fingerprint();
            let state = api::AppState::new(source.load().unwrap(), store.clone(), 10_000);
            state
                .knowledge_version
                .store(fingerprint.unwrap(), std::sync::atomic::Ordering::Relaxed);
            tasks.push(tokio::spawn(api::tasks::reload_knowledge(
                state.clone(),
                source.clone(),
                fingerprint,
                Duration::from_millis(50),
            )));
            replicas.push((api::app(state), store));
        }
        let before = get(&replicas[0].0, "/healthz").await.json["knowledge"].clone();
        assert_eq!(
            before,
            get(&replicas[1].0, "/healthz").await.json["knowledge"],
            "{}",
            db.label
        );

        // A conversation begun on one replica before the edit continues on the other after it.
        let first = crate::common::chat(&replicas[0].0, None, "护照怎么办").await;
        let session = first.json["session_id"].as_str().unwrap().to_string();
        let file = folder.path().join("guides/passport.toml");
        let original = std::fs::read_to_string(&file).unwrap();
        let mark = format!("【{}修订】", db.label);
        std::fs::write(
            &file,
            original.replacen("summary = \"", &format!("summary = \"{mark}"), 1),
        )
        .unwrap();
        for (app, _) in &replicas {
            wait_for(app, "/api/v1/guides/passport", |g| {
                g["summary"].as_str().is_some_and(|s| s.starts_with(&mark))
            })
            .await;
        }
        let a = get(&replicas[0].0, "/healthz").await.json["knowledge"].clone();
        let b = get(&replicas[1].0, "/healthz").await.json["knowledge"].clone();
        assert_eq!(a, b, "{}: both replicas serve one version", db.label);
        assert_ne!(a, before, "{}: the version moved with the edit", db.label);
        let next = crate::common::chat(&replicas[1].0, Some(&session), "完整办事指南").await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.json);
        assert!(
            next.json["reply"]["text"].as_str().unwrap().contains(&mark),
            "{}: {}",
            db.label,
            next.json
        );
        std::fs::write(&file, &original).unwrap();
        for task in tasks {
            task.abort();
        }
        for (_, store) in replicas {
            store.close().await;
        }
        db.cleanup().await;
    }
}

/// While the guides' embeddings are computed after start, the server answers (BM25) and
/// `/readyz` says how far it is; once done, the progress is gone.
#[tokio::test]
async fn a_warming_server_answers_and_shows_how_far_it_is() {
    let db = backend::testing::TestDb::sqlite();
    let store = db.open().await;
    let mut app_state = crate::common::state(store.clone());
    let progress = bot::semantic::Progress::new();
    progress.set_phase("embedding");
    progress.begin(400);
    progress.advance(100);
    app_state.warmup = Some(progress.clone());
    let app = api::app(app_state);
    let ready = crate::common::get(&app, "/readyz").await;
    assert_eq!(ready.status, axum::http::StatusCode::OK, "{}", ready.json);
    assert_eq!(ready.json["embedding"]["phase"], "embedding", "{}", ready.json);
    assert_eq!(ready.json["embedding"]["done"], 100);
    assert_eq!(ready.json["embedding"]["total"], 400);
    assert!(
        ready.json["search"].as_str().unwrap().contains("warming up"),
        "{}",
        ready.json
    );
    let answered = crate::common::chat(&app, None, "护照怎么办").await;
    assert_eq!(answered.status, axum::http::StatusCode::OK);
    assert_eq!(answered.json["intent"], "service", "{}", answered.json);
    progress.set_phase("ready");
    let ready = crate::common::get(&app, "/healthz").await;
    assert!(ready.json.get("embedding").is_none(), "{}", ready.json);
    store.close().await;
    db.cleanup().await;
}

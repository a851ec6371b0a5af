//! Helpers for tests that need a real database: a fresh SQLite file, and a fresh PostgreSQL
//! database when the server at `BANSHI_TEST_POSTGRES` (default 127.0.0.1:5432, database
//! `test`) is reachable. In CI (`CI` set) PostgreSQL must be reachable.

use crate::Store;

pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that lives as long as this value (the PostgreSQL one is dropped on `cleanup`).
pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<tempfile_dir::Dir>,
}

mod tempfile_dir {
    /// A temporary folder removed on drop (kept tiny to avoid a dependency outside tests).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("banshi-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TestDb {
            url: format!("sqlite://{}/banshi.db", dir.display()),
            label: "sqlite",
            admin_url: None,
            name: None,
            _dir: Some(tempfile_dir::Dir(dir)),
        }
    }

    /// A new, empty PostgreSQL database; `None` (with a message) when the server is not
    /// reachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("BANSHI_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string());
        sqlx::any::install_default_drivers();
        let admin = match sqlx::AnyPool::connect(&admin_url).await {
            Ok(pool) => pool,
            Err(err) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL at {admin_url} is required in CI: {err}");
                }
                eprintln!("skipping the PostgreSQL half of this test: {admin_url} unreachable: {err}");
                return None;
            }
        };
        let name = format!("banshi_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        Some(TestDb {
            url: format!("{base}/{name}"),
            label: "postgres",
            admin_url: Some(admin_url.clone()),
            name: Some(name),
            _dir: None,
        })
    }

    /// Every database this machine offers for tests: SQLite always, PostgreSQL when reachable.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|err| panic!("open {} test database: {err}", self.label))
    }

    /// Drops the PostgreSQL database (the SQLite folder goes with the value).
    pub async fn cleanup(self) {
        if let (Some(admin_url), Some(name)) = (&self.admin_url, &self.name)
            && let Ok(admin) = sqlx::AnyPool::connect(admin_url).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

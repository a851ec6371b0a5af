//! Shared settings against real databases: SQLite always, PostgreSQL when reachable.

use backend::testing::TestDb;

#[tokio::test]
async fn two_stores_on_one_database_agree_on_the_first_value_written() {
    for db in TestDb::all().await {
        // Opened one after the other: two processes migrating a fresh SQLite file at the same
        // moment is another matter (migrations take no lock there).
        let (first, second) = (db.open().await, db.open().await);
        assert_eq!(first.setting("signing_key").await.unwrap(), None, "{}", db.label);
        let (a, b) = tokio::join!(
            first.setting_or_insert("signing_key", "candidate-a"),
            second.setting_or_insert("signing_key", "candidate-b"),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b, "{}: both stores read back the winner", db.label);
        assert!(a == "candidate-a" || a == "candidate-b", "{a}");
        first.close().await;
        second.close().await;

        // A restart keeps it; a later candidate does not replace it.
        let reopened = db.open().await;
        assert_eq!(
            reopened.setting_or_insert("signing_key", "candidate-c").await.unwrap(),
            a
        );
        reopened.close().await;
        db.cleanup().await;
    }
}

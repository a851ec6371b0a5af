//! Knowledge gaps (issue 14): declined questions are kept masked and grouped, and an
//! operator reads them by topic with their counts.

use axum::http::StatusCode;
use backend::testing::TestDb;

use crate::common::{chat, state};
use crate::forms::{authed_get, login};

#[tokio::test]
async fn declined_questions_about_two_uncovered_services_are_two_gaps_with_counts() {
    let dogs = [
        "我叫王小明，身份证330102198803151234，电话13912345678，养犬登记怎么办理",
        "养犬登记证丢了怎么补办",
        "养犬登记要带什么材料",
    ];
    let fishing = ["渔业捕捞许可证怎么申请", "申请渔业捕捞许可证需要什么条件"];
    for db in TestDb::all().await {
        let store = db.open().await;
        crate::common::seed_demo_with_staff(&store).await;
        let app = api::app(state(store.clone()));
        for question in dogs.iter().chain(&fishing) {
            let answered = chat(&app, None, question).await;
            assert_eq!(answered.json["intent"], "out_of_scope", "{question}: {}", answered.json);
        }
        let admin = login(&app, "admin").await;
        let report = authed_get(&app, "/api/v1/stats/gaps?days=7", &admin).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.json);
        let clusters = report.json["clusters"].as_array().unwrap();
        let about = |word: &str| {
            clusters.iter().position(|c| {
                c["examples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e.as_str().unwrap().contains(word))
            })
        };
        let (dog, fish) = (
            about("养犬").expect("the dog licence"),
            about("捕捞").expect("the fishing permit"),
        );
        assert_ne!(dog, fish, "{}", report.json);
        assert_eq!(clusters[dog]["count"], 3, "{}: {}", db.label, report.json);
        assert_eq!(clusters[fish]["count"], 2, "{}", report.json);
        assert_eq!(clusters[dog]["kinds"]["declined"], 3);
        // Nothing personal is kept.
        for gap in store.gaps_since(0, 100).await.unwrap() {
            for secret in ["王小明", "330102198803151234", "13912345678"] {
                assert!(!gap.text.contains(secret), "{secret} kept: {}", gap.text);
            }
        }
        let citizen = login(&app, "citizen-1").await;
        let refused = authed_get(&app, "/api/v1/stats/gaps", &citizen).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        store.close().await;
        db.cleanup().await;
    }
}

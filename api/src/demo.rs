//! The development identity provider's demo users (citizens, a company, an agent, an admin
//! and one staff member per department) and their e-licences, seeded into the database when
//! the provider is on. Sample people of the fictional 示范市.

use std::collections::BTreeMap;

use crate::auth::Role;

pub struct DemoUser {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub department: Option<String>,
    /// (e-licence type, number, issued, expires, fields)
    pub licenses: Vec<License>,
}

/// (e-licence type, number, issued, expires, fields)
pub type License = (
    &'static str,
    String,
    String,
    Option<String>,
    Vec<(&'static str, String)>,
);

pub fn users(department_ids: &[String]) -> Vec<DemoUser> {
    users_at(department_ids, knowledge::time::today(backend::now_millis()))
}

/// The demo users on `today`: citizen-3's driving licence expires 60 days later and they
/// turn 60 this year (服务找人 has something to find whatever the date).
pub fn users_at(department_ids: &[String], today: chrono::NaiveDate) -> Vec<DemoUser> {
    let mut users = vec![
        DemoUser {
            id: "citizen-1".into(),
            name: "张明".into(),
            roles: vec![Role::Citizen],
            department: None,
            licenses: vec![
                (
                    "id_card",
                    "330102198803151234".into(),
                    "2016-04-02".into(),
                    Some("2036-04-02".into()),
                    vec![
                        ("name", "张明".into()),
                        ("number", "330102198803151234".into()),
                        ("gender", "男".into()),
                        ("birth_date", "1988-03-15".into()),
                        ("address", "示范市中山区民生路100号3幢201室".into()),
                    ],
                ),
                (
                    "household_register",
                    "HK3301020088".into(),
                    "2016-03-20".into(),
                    None,
                    vec![
                        ("head_name", "张明".into()),
                        ("address", "示范市中山区民生路100号3幢201室".into()),
                        ("number", "HK3301020088".into()),
                    ],
                ),
                (
                    "marriage_certificate",
                    "J330102-2019-001234".into(),
                    "2019-10-08".into(),
                    None,
                    vec![
                        ("spouse_name", "王丽".into()),
                        ("spouse_id_number", "330106199007222345".into()),
                        ("registered_on", "2019-10-08".into()),
                    ],
                ),
            ],
        },
        DemoUser {
            id: "citizen-2".into(),
            name: "李华".into(),
            roles: vec![Role::Citizen],
            department: None,
            licenses: vec![
                (
                    "id_card",
                    "330102198501013012".into(),
                    "2015-06-11".into(),
                    Some("2035-06-11".into()),
                    vec![
                        ("name", "李华".into()),
                        ("number", "330102198501013012".into()),
                        ("gender", "男".into()),
                        ("birth_date", "1985-01-01".into()),
                        ("address", "示范市滨江区江滨路12号3幢501室".into()),
                    ],
                ),
                (
                    "household_register",
                    "HK3301080123".into(),
                    "2015-05-30".into(),
                    None,
                    vec![
                        ("head_name", "李华".into()),
                        ("address", "示范市滨江区江滨路12号3幢501室".into()),
                        ("number", "HK3301080123".into()),
                    ],
                ),
                (
                    "marriage_certificate",
                    "J330108-2012-004567".into(),
                    "2012-05-20".into(),
                    None,
                    vec![("spouse_name", "陈静".into()), ("registered_on", "2012-05-20".into())],
                ),
            ],
        },
        citizen_3(today),
        DemoUser {
            id: "company-1".into(),
            name: "示范市青禾餐饮管理有限公司".into(),
            roles: vec![Role::Company],
            department: None,
            licenses: vec![(
                "business_license",
                "91330100MA2K3Q8X7F".into(),
                "2024-08-16".into(),
                None,
                vec![
                    ("name", "示范市青禾餐饮管理有限公司".into()),
                    ("credit_code", "91330100MA2K3Q8X7F".into()),
                    ("legal_rep", "周青禾".into()),
                    ("address", "示范市东湖区湖滨路8号".into()),
                ],
            )],
        },
        DemoUser {
            id: "agent-1".into(),
            name: "坐席小刘".into(),
            roles: vec![Role::Agent],
            department: None,
            licenses: vec![],
        },
        DemoUser {
            id: "admin".into(),
            name: "系统管理员".into(),
            roles: vec![Role::Admin],
            department: None,
            licenses: vec![],
        },
    ];
    for department in department_ids {
        users.push(DemoUser {
            id: format!("staff-{department}"),
            name: format!("{department} 工作人员"),
            roles: vec![Role::DeptStaff],
            department: Some(department.clone()),
            licenses: vec![],
        });
    }
    users
}

/// 王秀英: a driving licence that expires 60 days after `today`, and a 60th birthday this
/// year (two weeks after `today`, or the last day of the year if that is sooner).
fn citizen_3(today: chrono::NaiveDate) -> DemoUser {
    use chrono::{Datelike, Days, NaiveDate};
    let expires = today.checked_add_days(Days::new(60)).unwrap_or(today);
    let year_end = NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(today);
    let birthday = today.checked_add_days(Days::new(14)).unwrap_or(today).min(year_end);
    let born = NaiveDate::from_ymd_opt(today.year() - 60, birthday.month(), birthday.day())
        .or_else(|| NaiveDate::from_ymd_opt(today.year() - 60, 3, 1))
        .unwrap_or(today);
    let id_number = {
        // 330103 + birth date + sequence 452 (female) + the check digit.
        let body = format!("330103{}452", born.format("%Y%m%d"));
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .chars()
            .zip(weights)
            .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
            .sum();
        let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
        format!("{body}{check}")
    };
    let issued = expires.with_year(expires.year() - 6).unwrap_or(expires);
    DemoUser {
        id: "citizen-3".into(),
        name: "王秀英".into(),
        roles: vec![Role::Citizen],
        department: None,
        licenses: vec![
            (
                "id_card",
                id_number.clone(),
                "2016-09-01".into(),
                None,
                vec![
                    ("name", "王秀英".into()),
                    ("number", id_number.clone()),
                    ("gender", "女".into()),
                    ("birth_date", born.to_string()),
                    ("address", "示范市东湖区湖滨路66号2幢302室".into()),
                ],
            ),
            (
                "driving_license",
                id_number.clone(),
                issued.to_string(),
                Some(expires.to_string()),
                vec![
                    ("name", "王秀英".into()),
                    ("number", id_number.clone()),
                    ("class", "C1".into()),
                    ("expires_on", expires.to_string()),
                ],
            ),
            (
                "household_register",
                "HK3301030456".into(),
                "2001-05-10".into(),
                None,
                vec![
                    ("head_name", "王秀英".into()),
                    ("address", "示范市东湖区湖滨路66号2幢302室".into()),
                    ("number", "HK3301030456".into()),
                ],
            ),
        ],
    }
}

/// Writes the demo users and their e-licences (idempotent).
pub async fn seed(store: &backend::Store, department_ids: &[String]) -> backend::Result<usize> {
    seed_at(store, department_ids, backend::now_millis()).await
}

/// The same on the clock's `now` (a test's injected clock): citizen-3's dates follow it.
pub async fn seed_at(store: &backend::Store, department_ids: &[String], now: i64) -> backend::Result<usize> {
    let users = users_at(department_ids, knowledge::time::today(now));
    for user in &users {
        let kind = match user.roles.first() {
            Some(Role::Company) => "company",
            Some(Role::Citizen) => "citizen",
            Some(Role::Agent) => "agent",
            Some(Role::DeptStaff) => "dept_staff",
            _ => "admin",
        };
        store
            .upsert_user(
                &backend::User {
                    id: user.id.clone(),
                    kind: kind.into(),
                    name: user.name.clone(),
                    department: user.department.clone(),
                },
                now,
            )
            .await?;
        for (kind, number, issued, expires, fields) in &user.licenses {
            let fields: BTreeMap<&str, &str> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            store
                .put_e_license(&backend::ELicense {
                    holder_id: user.id.clone(),
                    kind: (*kind).into(),
                    number: number.clone(),
                    issued_on: issued.clone(),
                    expires_on: expires.clone(),
                    fields: serde_json::to_string(&fields).unwrap_or_default(),
                })
                .await?;
        }
    }
    Ok(users.len())
}

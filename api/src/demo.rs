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
    pub licenses: Vec<(
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Vec<(&'static str, &'static str)>,
    )>,
}

pub fn users(department_ids: &[String]) -> Vec<DemoUser> {
    let mut users = vec![
        DemoUser {
            id: "citizen-1".into(),
            name: "张明".into(),
            roles: vec![Role::Citizen],
            department: None,
            licenses: vec![
                (
                    "id_card",
                    "330102198803151234",
                    "2016-04-02",
                    Some("2036-04-02"),
                    vec![
                        ("name", "张明"),
                        ("number", "330102198803151234"),
                        ("gender", "男"),
                        ("birth_date", "1988-03-15"),
                        ("address", "示范市中山区民生路100号3幢201室"),
                    ],
                ),
                (
                    "household_register",
                    "HK3301020088",
                    "2016-03-20",
                    None,
                    vec![
                        ("head_name", "张明"),
                        ("address", "示范市中山区民生路100号3幢201室"),
                        ("number", "HK3301020088"),
                    ],
                ),
                (
                    "marriage_certificate",
                    "J330102-2019-001234",
                    "2019-10-08",
                    None,
                    vec![
                        ("spouse_name", "王丽"),
                        ("spouse_id_number", "330106199007222345"),
                        ("registered_on", "2019-10-08"),
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
                    "330102198501013012",
                    "2015-06-11",
                    Some("2035-06-11"),
                    vec![
                        ("name", "李华"),
                        ("number", "330102198501013012"),
                        ("gender", "男"),
                        ("birth_date", "1985-01-01"),
                        ("address", "示范市滨江区江滨路12号3幢501室"),
                    ],
                ),
                (
                    "household_register",
                    "HK3301080123",
                    "2015-05-30",
                    None,
                    vec![
                        ("head_name", "李华"),
                        ("address", "示范市滨江区江滨路12号3幢501室"),
                        ("number", "HK3301080123"),
                    ],
                ),
                (
                    "marriage_certificate",
                    "J330108-2012-004567",
                    "2012-05-20",
                    None,
                    vec![("spouse_name", "陈静"), ("registered_on", "2012-05-20")],
                ),
            ],
        },
        DemoUser {
            id: "company-1".into(),
            name: "示范市青禾餐饮管理有限公司".into(),
            roles: vec![Role::Company],
            department: None,
            licenses: vec![(
                "business_license",
                "91330100MA2K3Q8X7F",
                "2024-08-16",
                None,
                vec![
                    ("name", "示范市青禾餐饮管理有限公司"),
                    ("credit_code", "91330100MA2K3Q8X7F"),
                    ("legal_rep", "周青禾"),
                    ("address", "示范市东湖区湖滨路8号"),
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

/// Writes the demo users and their e-licences (idempotent).
pub async fn seed(store: &backend::Store, department_ids: &[String]) -> backend::Result<usize> {
    // Only the demo users' creation time: no deadline or workflow depends on it.
    let now = backend::now_millis();
    let users = users(department_ids);
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
            let fields: BTreeMap<&str, &str> = fields.iter().copied().collect();
            store
                .put_e_license(&backend::ELicense {
                    holder_id: user.id.clone(),
                    kind: (*kind).into(),
                    number: (*number).into(),
                    issued_on: (*issued).into(),
                    expires_on: expires.map(str::to_string),
                    fields: serde_json::to_string(&fields).unwrap_or_default(),
                })
                .await?;
        }
    }
    Ok(users.len())
}

//! The access log's writer and reader: a read of a citizen's application, ticket or
//! conversation by anyone but the citizen is recorded, and the citizen can list them.

use super::Result;
use crate::auth::{Role, User};
use crate::state::AppState;

fn role_of(user: &User) -> &'static str {
    if user.has(Role::Admin) {
        "admin"
    } else if user.has(Role::DeptStaff) {
        "dept_staff"
    } else if user.has(Role::Agent) {
        "agent"
    } else {
        "citizen"
    }
}

/// Records that `user` read `kind` `id`, whose owner is `owner`; nothing when it is the owner.
pub async fn read(state: &AppState, user: &User, kind: &str, id: &str, owner: Option<&str>) -> Result<()> {
    if owner == Some(user.id.as_str()) {
        return Ok(());
    }
    let entry = backend::AccessEntry {
        actor: user.id.clone(),
        actor_role: role_of(user).into(),
        action: "read".into(),
        object_kind: kind.into(),
        object_id: id.into(),
        owner_id: owner.map(str::to_string),
        at: state.clock.now(),
    };
    state.store.record_access(&entry).await?;
    Ok(())
}

/// Who read the caller's things, latest first (at most 200).
pub async fn of_owner(state: &AppState, user: &User) -> Result<Vec<backend::AccessEntry>> {
    Ok(state.store.access_of_owner(&user.id, 200).await?)
}

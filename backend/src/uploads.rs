//! Uploaded files (a material's photo or scan): kept with the conversation that uploaded
//! them until an application takes them over, then read by the applicant and the staff who
//! handle the application.

use sqlx::Row;

use crate::{Result, Store, Tx};

/// A file to store; the caller has checked its type and size.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub session_id: String,
    /// The logged-in uploader, if any.
    pub owner_id: Option<String>,
    pub material: String,
    pub file_name: String,
    pub content_type: String,
    pub sha256: String,
    pub data: Vec<u8>,
}

/// A stored file's description (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub session_id: String,
    pub owner_id: Option<String>,
    pub material: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub application_number: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, session_id, owner_id, material, file_name, content_type, size, sha256, application_number, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Upload> {
    Ok(Upload {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        owner_id: row.try_get("owner_id")?,
        material: row.try_get("material")?,
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        application_number: row.try_get("application_number")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a file; returns its description.
    pub async fn put_upload(&self, new: &NewUpload, now: i64) -> Result<Upload> {
        let id = format!("upl-{}", uuid::Uuid::new_v4().simple());
        sqlx::query(
            "INSERT INTO uploads (id, session_id, owner_id, material, file_name, content_type, size, sha256, data, \
             application_number, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)",
        )
        .bind(&id)
        .bind(&new.session_id)
        .bind(&new.owner_id)
        .bind(&new.material)
        .bind(&new.file_name)
        .bind(&new.content_type)
        .bind(new.data.len() as i64)
        .bind(&new.sha256)
        .bind(new.data.clone())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Upload {
            id,
            session_id: new.session_id.clone(),
            owner_id: new.owner_id.clone(),
            material: new.material.clone(),
            file_name: new.file_name.clone(),
            content_type: new.content_type.clone(),
            size: new.data.len() as i64,
            sha256: new.sha256.clone(),
            application_number: None,
            created_at: now,
        })
    }

    /// A conversation's files that no application holds yet, oldest first.
    pub async fn pending_uploads(&self, session_id: &str) -> Result<Vec<Upload>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE session_id = $1 AND application_number IS NULL \
             ORDER BY created_at, id"
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// How many files a conversation has uploaded (a cap against filling the disk).
    pub async fn count_uploads(&self, session_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM uploads WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn upload(&self, id: &str) -> Result<Option<Upload>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A file's bytes.
    pub async fn upload_data(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT data FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get::<Vec<u8>, _>("data")?),
            None => None,
        })
    }

    /// The files an application holds (a bundle's are held by the whole application).
    pub async fn uploads_of_application(&self, number: &str) -> Result<Vec<Upload>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE application_number = $1 ORDER BY created_at, id"
        ))
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}

impl Tx {
    /// Hands the conversation's files over to the application (only files of that
    /// conversation that no application holds yet); returns how many moved.
    pub async fn link_uploads(&mut self, session_id: &str, ids: &[String], number: &str) -> Result<u64> {
        let mut moved = 0;
        for id in ids {
            moved += sqlx::query(
                "UPDATE uploads SET application_number = $1 WHERE id = $2 AND session_id = $3 \
                 AND application_number IS NULL",
            )
            .bind(number)
            .bind(id)
            .bind(session_id)
            .execute(self.conn())
            .await?
            .rows_affected();
        }
        Ok(moved)
    }
}

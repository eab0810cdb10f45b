//! Storage: one pool enum over SQLite and PostgreSQL. Every query is written
//! once and run on either backend through [`with_conn!`]; callers never see
//! which backend is in use.

pub mod models;
pub mod schema;
pub mod store;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

pub type SqliteConn = SyncConnectionWrapper<diesel::SqliteConnection>;

/// A pooled database handle; cheap to clone.
#[derive(Clone)]
pub enum Db {
    Sqlite(Pool<SqliteConn>),
    Postgres(Pool<AsyncPgConnection>),
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database pool error: {0}")]
    Pool(String),
    #[error("migration error: {0}")]
    Migration(String),
    #[error("unsupported database url (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// Redis, where one-time values live when secondary storage is configured.
    #[error("secondary storage error: {0}")]
    Secondary(String),
}

impl StorageError {
    /// True when a unique index refused the write (a concurrent duplicate).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StorageError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StorageError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StorageError::Pool(e.to_string())
    }
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend
/// `$db` is. The body is monomorphised for both backends.
#[macro_export]
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::StorageError::from)?;
                let $conn = &mut *pooled;
                $body
            }
            $crate::db::Db::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err($crate::db::StorageError::from)?;
                let $conn = &mut *pooled;
                $body
            }
        }
    };
}

/// The migration sets for one backend, core first, then one per plugin.
/// (Functions, because `EmbeddedMigrations` is consumed when run.)
pub struct MigrationSet {
    pub sqlite: fn() -> EmbeddedMigrations,
    pub postgres: fn() -> EmbeddedMigrations,
}

impl MigrationSet {
    /// The versions of this set's migrations, both backends. Versions must
    /// be unique across every set: the migration table is keyed by version
    /// alone, so a repeated one would be taken as already applied.
    pub fn versions(&self) -> Vec<String> {
        use diesel::migration::MigrationSource;
        let mut out = Vec::new();
        if let Ok(ms) = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&(self.sqlite)()) {
            out.extend(ms.iter().map(|m| format!("sqlite/{}", m.name().version())));
        }
        if let Ok(ms) = MigrationSource::<diesel::pg::Pg>::migrations(&(self.postgres)()) {
            out.extend(
                ms.iter()
                    .map(|m| format!("postgres/{}", m.name().version())),
            );
        }
        out
    }
}

/// Embeds one migration folder per backend (paths relative to `server/`).
#[macro_export]
macro_rules! migration_set {
    ($sqlite:literal, $postgres:literal) => {{
        const SQLITE: diesel_migrations::EmbeddedMigrations =
            diesel_migrations::embed_migrations!($sqlite);
        const POSTGRES: diesel_migrations::EmbeddedMigrations =
            diesel_migrations::embed_migrations!($postgres);
        fn sqlite() -> diesel_migrations::EmbeddedMigrations {
            SQLITE
        }
        fn postgres() -> diesel_migrations::EmbeddedMigrations {
            POSTGRES
        }
        $crate::db::MigrationSet { sqlite, postgres }
    }};
}

pub const CORE_MIGRATIONS: MigrationSet =
    migration_set!("../migrations/sqlite/core", "../migrations/postgres/core");

impl Db {
    /// Connects to `sqlite://PATH` or `postgres://...` and sizes the pool.
    pub async fn connect(url: &str, max_size: usize) -> Result<Db, StorageError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let mut config = ManagerConfig::<SqliteConn>::default();
            config.custom_setup = Box::new(|path: &str| {
                let path = path.to_owned();
                async move {
                    let mut conn = SqliteConn::establish(&path).await?;
                    // WAL lets readers run beside the single writer; busy_timeout
                    // makes concurrent writers wait instead of failing. It comes
                    // first: switching to WAL needs a lock another process
                    // starting at the same moment may hold.
                    conn.batch_execute(
                        "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                    )
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                    Ok(conn)
                }
                .boxed()
            });
            let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
            let pool = Pool::builder(manager)
                .max_size(max_size)
                .build()
                .map_err(|e| StorageError::Pool(e.to_string()))?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
            let pool = Pool::builder(manager)
                .max_size(max_size)
                .build()
                .map_err(|e| StorageError::Pool(e.to_string()))?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StorageError::UnsupportedUrl)
        }
    }

    /// Runs raw SQL (administration and tests; never with user input).
    pub async fn batch_execute(&self, sql: &str) -> Result<(), StorageError> {
        with_conn!(self, |conn| {
            conn.batch_execute(sql).await?;
            Ok(())
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Applies every pending migration of the given sets; returns how many
    /// ran. Exclusive across processes: several instances starting at once
    /// on a fresh database would otherwise race to create the same tables
    /// (PostgreSQL: a session advisory lock on the migrating connection;
    /// SQLite: an OS lock on a file beside the database). The one that gets
    /// the lock migrates; the others then find nothing pending.
    pub async fn migrate(&self, sets: &[&MigrationSet]) -> Result<usize, StorageError> {
        let mut applied = 0;
        match self {
            Db::Sqlite(pool) => {
                let mut conn = pool.get().await?;
                let _lock = match sqlite_file(&mut conn).await? {
                    Some(file) => Some(lock_file(format!("{file}.migrate-lock")).await?),
                    None => None,
                };
                let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
                for set in sets {
                    applied += harness
                        .run_pending_migrations((set.sqlite)())
                        .map_err(|e| StorageError::Migration(e.to_string()))?
                        .len();
                }
            }
            Db::Postgres(pool) => {
                use diesel_async::RunQueryDsl;
                let mut conn = pool.get().await?;
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .execute(&mut *conn)
                    .await?;
                let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
                let mut outcome = Ok(());
                for set in sets {
                    match harness.run_pending_migrations((set.postgres)()) {
                        Ok(done) => applied += done.len(),
                        Err(e) => {
                            outcome = Err(StorageError::Migration(e.to_string()));
                            break;
                        }
                    }
                }
                let mut conn = harness.into_inner();
                // Also released when the connection closes.
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                    .execute(&mut *conn)
                    .await?;
                outcome?;
            }
        }
        Ok(applied)
    }
}

/// The advisory lock every Gatehouse instance takes to migrate (an
/// arbitrary constant: "gatehouse" in ASCII, folded into an i64).
const MIGRATION_LOCK_KEY: i64 = 0x6761_7465_686f_7573;

#[derive(diesel::QueryableByName)]
struct DatabaseFile {
    #[diesel(sql_type = diesel::sql_types::Text)]
    file: String,
}

/// The main database's file; `None` for an in-memory database.
async fn sqlite_file(conn: &mut SqliteConn) -> Result<Option<String>, StorageError> {
    use diesel_async::RunQueryDsl;
    let row: Option<DatabaseFile> = diesel::OptionalExtension::optional(
        diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .get_result(conn)
            .await,
    )?;
    Ok(row.map(|r| r.file).filter(|f| !f.is_empty()))
}

/// Waits for an exclusive OS lock on `path` (created if missing); held
/// until the returned file is dropped.
async fn lock_file(path: String) -> Result<std::fs::File, StorageError> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::Migration(format!("{path}: {e}")))?;
        file.lock()
            .map_err(|e| StorageError::Migration(format!("locking {path}: {e}")))?;
        Ok(file)
    })
    .await
    .map_err(|e| StorageError::Migration(e.to_string()))?
}

/// `s` as a literal inside a `LIKE` pattern written with `ESCAPE '\\'`.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

//! Password hashing: argon2id for new hashes; Better Auth's scrypt format is
//! verified too so an imported database keeps working, and rehashed on the
//! next successful sign-in.
//!
//! Memory is the scarce resource: one argon2id hash at the default cost
//! touches 19 MiB. Hashes therefore run on a fixed set of worker threads
//! (`password_hash.concurrency`, default: the number of cores), each with
//! one reused working area mapped straight from the OS ([`Scratch`]): glibc
//! keeps freed 19 MiB blocks in its arenas, so allocating one per hash made
//! the process grow without bound under load. A worker idle for
//! [`IDLE_RELEASE`] unmaps its area, so memory returns after a burst. At
//! most `password_hash.queue` hashes wait; beyond that the caller gets
//! [`PasswordError::Busy`] (`503` with `Retry-After`) rather than a pile-up.
//! Workers run at a lower scheduling priority, so the request path (session
//! checks, everything without a hash) stays fast while hashes saturate the cores.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use unicode_normalization::UnicodeNormalization;

use crate::config::PasswordHashConfig;

/// A worker that has not hashed for this long returns its working area.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("unrecognised password hash format")]
    Format,
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Every worker is busy and the queue is full.
    #[error("password hashing is at capacity")]
    Busy,
}

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the stored hash is legacy (scrypt) or has old parameters.
    YesRehash,
}

impl Verified {
    pub fn ok(self) -> bool {
        self != Verified::No
    }
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// Hashes and verifies passwords on a bounded pool of worker threads.
#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordHashConfig,
    workers: usize,
    jobs: SyncSender<Job>,
    /// A real hash of a random password: verifying against it costs the same
    /// as a real check, so unknown accounts take as long as wrong passwords.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(params: PasswordHashConfig) -> Result<Self, PasswordError> {
        let workers = params
            .concurrency
            .unwrap_or_else(default_concurrency)
            .max(1);
        // About a second of work at the default cost: enough for a burst, never a pile-up.
        let queue = params.queue.unwrap_or(workers * 64);
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("gatehouse-hash-{n}"))
                .spawn(move || worker(&rx))
                .map_err(|e| PasswordError::Hash(e.to_string()))?;
        }
        let dummy = crate::crypto::token::random_alphanumeric(32);
        let dummy_hash = hash_argon2(&params, &dummy, &mut Scratch::default())?;
        Ok(PasswordHasher {
            params,
            workers,
            jobs,
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// How many hashes run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `f` on a worker; `Busy` at once when the queue is full.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Scratch) -> Result<R, PasswordError> + Send + 'static,
    ) -> Result<R, PasswordError> {
        let (tx, rx) = oneshot::channel();
        let depth = &crate::http::metrics::global().hash_queue_depth;
        let job: Job = Box::new(move |scratch| {
            let _ = tx.send(f(scratch));
            crate::http::metrics::global().hash_queue_depth.dec();
        });
        depth.inc();
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                depth.dec();
                return Err(PasswordError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => {
                depth.dec();
                return Err(PasswordError::Hash("hash workers stopped".into()));
            }
        }
        rx.await
            .map_err(|_| PasswordError::Hash("hash worker panicked".into()))?
    }

    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.run(move |scratch| hash_argon2(&params, &password, scratch))
            .await
    }

    /// Checks a password. An unusable stored hash counts as a mismatch (and
    /// is logged); the only error is [`PasswordError::Busy`] (or a stopped pool).
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        let params = self.params.clone();
        let password = password.to_owned();
        let stored = stored.to_owned();
        match self
            .run(move |scratch| verify_with(&params, &password, &stored, scratch))
            .await
        {
            Err(e @ (PasswordError::Format | PasswordError::Hash(_))) => {
                tracing::warn!(error = %e, "stored password hash unusable");
                Ok(Verified::No)
            }
            other => other,
        }
    }

    /// Burns the same work as a verification; used when there is no account.
    /// Only `Busy` comes back as an error, so that unknown accounts are
    /// answered exactly like known ones under load too.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), PasswordError> {
        let stored = self.dummy_hash.clone();
        match self.verify(password, &stored).await {
            Err(PasswordError::Busy) => Err(PasswordError::Busy),
            _ => Ok(()),
        }
    }
}

fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// One hash worker: takes jobs until the hasher is dropped, and returns its
/// working area to the OS whenever it has been idle for [`IDLE_RELEASE`].
fn worker(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    let mut scratch = Scratch::default();
    loop {
        let next = match jobs.lock() {
            Ok(rx) => rx.recv_timeout(IDLE_RELEASE),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(&mut scratch),
            Err(RecvTimeoutError::Timeout) => scratch.release(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Hash workers yield to request handling: a session check that wakes up
/// while every core is hashing runs first instead of waiting for a slice.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; on Linux, PRIO_PROCESS
    // with a thread id changes only that thread.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// A worker's argon2 working area. On Unix it is an anonymous mapping, so
/// that releasing it gives the pages back to the OS at once, whatever the
/// allocator would have done with a block this size.
#[derive(Default)]
pub struct Scratch {
    area: Option<Area>,
}

impl Scratch {
    /// At least `blocks` blocks, reusing the current area when it is big enough.
    fn blocks(&mut self, blocks: usize) -> Result<&mut [Block], PasswordError> {
        if self.area.as_ref().is_none_or(|a| a.len < blocks) {
            self.area = None;
            self.area = Some(Area::new(blocks)?);
        }
        Ok(self.area.as_mut().expect("just set").as_mut_slice())
    }

    fn release(&mut self) {
        self.area = None;
    }
}

#[cfg(unix)]
struct Area {
    ptr: std::ptr::NonNull<Block>,
    len: usize,
}

// SAFETY: the mapping is owned by exactly one Area and only reached through it.
#[cfg(unix)]
unsafe impl Send for Area {}

#[cfg(unix)]
impl Area {
    fn new(len: usize) -> Result<Area, PasswordError> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len * Block::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(PasswordError::Hash(format!(
                "cannot map {} KiB for argon2: {}",
                len,
                std::io::Error::last_os_error()
            )));
        }
        let ptr = std::ptr::NonNull::new(ptr.cast::<Block>())
            .ok_or_else(|| PasswordError::Hash("mmap returned null".into()))?;
        Ok(Area { ptr, len })
    }

    fn as_mut_slice(&mut self) -> &mut [Block] {
        // SAFETY: the mapping holds `len` blocks, is page-aligned (more than
        // Block's 64-byte alignment), zero-filled (a valid Block: plain u64s)
        // and borrowed mutably through `&mut self` only.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

#[cfg(unix)]
impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `new`, once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len * Block::SIZE);
        }
    }
}

#[cfg(not(unix))]
struct Area {
    blocks: Vec<Block>,
    len: usize,
}

#[cfg(not(unix))]
impl Area {
    fn new(len: usize) -> Result<Area, PasswordError> {
        Ok(Area {
            blocks: vec![Block::new(); len],
            len,
        })
    }

    fn as_mut_slice(&mut self) -> &mut [Block] {
        &mut self.blocks
    }
}

fn argon2_for(m: u32, t: u32, p: u32, len: usize) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(m, t, p, Some(len)).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Runs argon2id into `out` in the scratch area.
fn argon2_into(
    a: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    scratch: &mut Scratch,
) -> Result<(), PasswordError> {
    let blocks = scratch.blocks(a.params().block_count())?;
    a.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// PHC string: `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (unpadded base64).
pub fn hash_argon2(
    cfg: &PasswordHashConfig,
    password: &str,
    scratch: &mut Scratch,
) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let a = argon2_for(cfg.memory_kib, cfg.iterations, cfg.parallelism, out.len())?;
    argon2_into(&a, password, &salt, &mut out, scratch)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cfg.memory_kib,
        cfg.iterations,
        cfg.parallelism,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// Checks `password` against a stored hash (allocating its own memory).
pub fn verify(
    cfg: &PasswordHashConfig,
    password: &str,
    stored: &str,
) -> Result<Verified, PasswordError> {
    verify_with(cfg, password, stored, &mut Scratch::default())
}

fn verify_with(
    cfg: &PasswordHashConfig,
    password: &str,
    stored: &str,
    scratch: &mut Scratch,
) -> Result<Verified, PasswordError> {
    if stored.starts_with("$argon2id$") {
        let (ok, m, t, p) = verify_argon2(password, stored, scratch)?;
        let current = m == cfg.memory_kib && t == cfg.iterations && p == cfg.parallelism;
        Ok(match (ok, current) {
            (false, _) => Verified::No,
            (true, true) => Verified::Yes,
            (true, false) => Verified::YesRehash,
        })
    } else if stored.contains(':') {
        Ok(if verify_scrypt(password, stored)? {
            Verified::YesRehash
        } else {
            Verified::No
        })
    } else {
        Err(PasswordError::Format)
    }
}

fn verify_argon2(
    password: &str,
    stored: &str,
    scratch: &mut Scratch,
) -> Result<(bool, u32, u32, u32), PasswordError> {
    // ["", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash]
    let parts: Vec<&str> = stored.split('$').collect();
    if parts.len() != 6 || parts[2] != "v=19" {
        return Err(PasswordError::Format);
    }
    let (mut m, mut t, mut p) = (0, 0, 0);
    for kv in parts[3].split(',') {
        let (k, v) = kv.split_once('=').ok_or(PasswordError::Format)?;
        let v: u32 = v.parse().map_err(|_| PasswordError::Format)?;
        match k {
            "m" => m = v,
            "t" => t = v,
            "p" => p = v,
            _ => return Err(PasswordError::Format),
        }
    }
    let salt = STANDARD_NO_PAD
        .decode(parts[4])
        .map_err(|_| PasswordError::Format)?;
    let expected = STANDARD_NO_PAD
        .decode(parts[5])
        .map_err(|_| PasswordError::Format)?;
    if expected.len() < 16 || expected.len() > 64 {
        return Err(PasswordError::Format);
    }
    let mut out = vec![0u8; expected.len()];
    let a = argon2_for(m, t, p, expected.len())?;
    argon2_into(&a, password, &salt, &mut out, scratch)?;
    Ok((bool::from(out.ct_eq(&expected)), m, t, p))
}

/// Better Auth's format: `<32 hex salt>:<128 hex key>`, scrypt N=16384, r=16,
/// p=1, dkLen=64, over the NFKC-normalised password; the salt is the hex
/// *string's* bytes, not the decoded bytes.
fn verify_scrypt(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let (salt_hex, key_hex) = stored.split_once(':').ok_or(PasswordError::Format)?;
    let expected = hex::decode(key_hex).map_err(|_| PasswordError::Format)?;
    if expected.len() != 64 {
        return Err(PasswordError::Format);
    }
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(14, 16, 1).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let mut out = [0u8; 64];
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        &mut out,
    )
    .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(bool::from(out.as_slice().ct_eq(&expected)))
}

/// Builds a hash in Better Auth's scrypt format (used by import tests).
pub fn hash_scrypt_better_auth(password: &str, salt_hex: &str) -> String {
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(14, 16, 1).expect("static params");
    let mut out = [0u8; 64];
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        &mut out,
    )
    .expect("64-byte output");
    format!("{salt_hex}:{}", hex::encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHashConfig {
        PasswordHashConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            ..PasswordHashConfig::default()
        }
    }

    #[test]
    fn argon2_round_trip() {
        let h = hash_argon2(&cheap(), "correct horse", &mut Scratch::default()).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            verify(&cheap(), "correct horse", &h).unwrap(),
            Verified::Yes
        );
        assert_eq!(verify(&cheap(), "wrong horse", &h).unwrap(), Verified::No);
        let stronger = PasswordHashConfig {
            memory_kib: 2048,
            ..cheap()
        };
        assert_eq!(
            verify(&stronger, "correct horse", &h).unwrap(),
            Verified::YesRehash
        );
    }

    #[test]
    fn better_auth_scrypt_vector() {
        // Computed independently with Node: crypto.scryptSync("password123",
        // salt, 64, {N: 16384, r: 16, p: 1}) — Better Auth's parameters.
        let stored = "0123456789abcdef0123456789abcdef:e8b256b6f9f4b1641136a66d4a26ba41a47b6c8c9bad6aa4145559ffda45ece1f0f16dec8482a3e5545feada0ba62f2b05eeb943b750c9396874e1762c78d27d";
        assert_eq!(
            hash_scrypt_better_auth("password123", "0123456789abcdef0123456789abcdef"),
            stored
        );
        assert_eq!(
            verify(&cheap(), "password123", stored).unwrap(),
            Verified::YesRehash
        );
        assert_eq!(
            verify(&cheap(), "password124", stored).unwrap(),
            Verified::No
        );
    }

    #[test]
    fn garbage_hash_is_an_error_not_a_panic() {
        assert!(verify(&cheap(), "x", "nonsense").is_err());
        assert!(verify(&cheap(), "x", "$argon2id$v=19$m=1,t=1$zz$zz").is_err());
    }
}

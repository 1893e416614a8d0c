//! Build a minimal root filesystem from host programs and their shared-library closure.
//!
//! This is what one does by hand to prepare a chroot: copy each program, its ELF interpreter
//! and every library it needs, resolved the way the glibc dynamic loader does (from the ELF
//! headers and /etc/ld.so.cache; ldd and ld.so are never run). The host path layout is kept,
//! symlinks included, so both `/lib64/ld-linux-x86-64.so.2` and its target work inside.
//!
//! Every write into the new root goes through directory descriptors opened one component at a
//! time with `O_NOFOLLOW`, so a symlink planted in the root can never redirect a write outside.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, readlinkat, renameat};
use nix::sys::stat::{Mode, fchmod, mkdirat};
use nix::unistd::{Group, UnlinkatFlags, User, getgid, getuid, symlinkat, unlinkat};

/// Why --mkroot failed, on which host or in-root path: `--mkroot: <path>: <why>`.
#[derive(Debug)]
pub struct MkrootError {
    pub path: PathBuf,
    pub why: Why,
}

#[derive(Debug)]
pub enum Why {
    Io(io::Error),
    Errno(Errno),
    /// A fixed reason (`not an ELF file`).
    Is(&'static str),
    /// The ELF interpreter of `exe` is missing.
    Interpreter {
        exe: PathBuf,
        err: io::Error,
    },
    /// A DT_NEEDED library found nowhere.
    NoLibrary(OsString),
    /// `busybox --list` failed.
    List(std::process::ExitStatus),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Io(e) => write!(f, "{e}"),
            Why::Errno(e) => write!(f, "{e}"),
            Why::Is(s) => f.write_str(s),
            Why::Interpreter { exe, err } => write!(f, "interpreter of {}: {err}", exe.display()),
            Why::NoLibrary(name) => write!(f, "needed library {} not found", name.display()),
            Why::List(status) => write!(f, "--list: {status}"),
        }
    }
}

impl From<io::Error> for Why {
    fn from(e: io::Error) -> Why {
        Why::Io(e)
    }
}

impl From<Errno> for Why {
    fn from(e: Errno) -> Why {
        Why::Errno(e)
    }
}

impl From<&'static str> for Why {
    fn from(s: &'static str) -> Why {
        Why::Is(s)
    }
}

impl fmt::Display for MkrootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

impl std::error::Error for MkrootError {}

/// The one line: `--mkroot: <path>: <why>`.
impl From<MkrootError> for crate::error::SetupError {
    fn from(e: MkrootError) -> Self {
        crate::error::SetupError::new("--mkroot", e.path.to_string_lossy(), e.why.to_string())
    }
}

fn err(path: impl AsRef<Path>, why: impl Into<Why>) -> MkrootError {
    MkrootError {
        path: path.as_ref().to_path_buf(),
        why: why.into(),
    }
}

/// `.at(path)?` attaches the path an error is about.
trait At<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T, MkrootError>;
}

impl<T, E: Into<Why>> At<T> for Result<T, E> {
    fn at(self, path: impl AsRef<Path>) -> Result<T, MkrootError> {
        self.map_err(|e| err(path, e))
    }
}

const LD_SO_CACHE: &str = "/etc/ld.so.cache";
/// Searched after DT_RPATH, DT_RUNPATH and the cache.
const DEFAULT_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];
/// Merged-/usr aliases mirrored into every root (when they are symlinks on the host), so that
/// `/bin/sh` works even though PATH lookup found `/usr/bin/sh`.
const USR_MERGE_LINKS: &[&str] = &["/bin", "/sbin", "/lib", "/lib64"];

/// Finds a program like the shell does: through PATH when the name has no '/'.
pub fn resolve_program(name: &OsStr) -> Result<PathBuf, MkrootError> {
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.as_bytes().contains(&b'/') {
        let p = PathBuf::from(name);
        return if executable(&p) {
            Ok(p)
        } else {
            Err(err(&p, "not an executable file"))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| !name.is_empty() && executable(p))
        .ok_or_else(|| err(name, "not found in PATH"))
}

const PT_LOAD: u64 = 1;
const PT_DYNAMIC: u64 = 2;
const PT_INTERP: u64 = 3;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// What the loader needs from one ELF file.
#[derive(Debug)]
struct Elf {
    /// EI_CLASS and e_machine: every object in a process must agree on both.
    kind: (u8, u16),
    interp: Option<PathBuf>,
    needed: Vec<OsString>,
    rpath: Option<OsString>,
    runpath: Option<OsString>,
}

/// Little-endian integer of `n` bytes at `off`, None when out of bounds.
fn le(buf: &[u8], off: usize, n: usize) -> Option<u64> {
    let bytes = buf.get(off..off.checked_add(n)?)?;
    Some(
        bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| acc << 8 | u64::from(b)),
    )
}

/// NUL-terminated string at `off`.
fn cstr(buf: &[u8], off: usize) -> Option<&OsStr> {
    let s = buf.get(off..)?;
    s.iter()
        .position(|&b| b == 0)
        .map(|end| OsStr::from_bytes(&s[..end]))
}

/// Reads the program headers and dynamic section of a little-endian ELF32 or ELF64 file.
fn read_elf(path: &Path) -> Result<Elf, MkrootError> {
    let file = File::open(path).at(path)?;
    let size = file.metadata().at(path)?.len();
    let bad = || err(path, "malformed ELF file");
    let read = |off: u64, len: u64| {
        if off.checked_add(len).is_none_or(|end| end > size) {
            return Err(bad());
        }
        let mut buf = vec![0; len as usize];
        file.read_exact_at(&mut buf, off).at(path)?;
        Ok(buf)
    };
    let get = |buf: &[u8], off: usize, n: usize| le(buf, off, n).ok_or_else(bad);

    let eh = read(0, size.min(64))?;
    if !eh.starts_with(b"\x7fELF") || eh.len() < 52 {
        return Err(err(path, "not an ELF file"));
    }
    if eh[5] != 1 {
        return Err(err(path, "big-endian ELF is not supported"));
    }
    let (class, w) = match eh[4] {
        1 => (1, 4),
        2 => (2, 8),
        _ => return Err(bad()),
    };
    let machine = get(&eh, 18, 2)? as u16;
    // Field offsets differ between ELF64 and ELF32 (e_phoff/e_phentsize/e_phnum, then
    // p_offset/p_vaddr/p_filesz); sizes are the word size.
    let ([e_phoff, e_phentsize, e_phnum], [p_offset, p_vaddr, p_filesz]) = if w == 8 {
        ([32, 54, 56], [8, 16, 32])
    } else {
        ([28, 42, 44], [4, 8, 16])
    };
    let (phoff, phentsize) = (get(&eh, e_phoff, w)?, get(&eh, e_phentsize, 2)?);
    let phnum = get(&eh, e_phnum, 2)?;
    let phdrs = read(phoff, phentsize * phnum)?;
    let (mut loads, mut interp, mut dynamic) = (Vec::new(), None, None);
    for p in (0..phdrs.len()).step_by(phentsize.max(1) as usize) {
        let (off, filesz) = (get(&phdrs, p + p_offset, w)?, get(&phdrs, p + p_filesz, w)?);
        let vaddr = get(&phdrs, p + p_vaddr, w)?;
        match get(&phdrs, p, 4)? {
            PT_LOAD => loads.push((vaddr, off, filesz)),
            PT_INTERP => {
                interp = Some(PathBuf::from(cstr(&read(off, filesz)?, 0).ok_or_else(bad)?))
            }
            PT_DYNAMIC => dynamic = Some(read(off, filesz)?),
            _ => {}
        }
    }
    let mut elf = Elf {
        kind: (class, machine),
        interp,
        needed: Vec::new(),
        rpath: None,
        runpath: None,
    };
    let Some(dynamic) = dynamic else {
        return Ok(elf); // statically linked
    };
    let (mut strtab, mut strsz, mut strings) = (None, 0, Vec::new());
    for entry in dynamic.chunks_exact(2 * w) {
        match (get(entry, 0, w)?, get(entry, w, w)?) {
            (0, _) => break,
            (DT_STRTAB, v) => strtab = Some(v),
            (DT_STRSZ, v) => strsz = v,
            (tag @ (DT_NEEDED | DT_RPATH | DT_RUNPATH), v) => strings.push((tag, v)),
            _ => {}
        }
    }
    if strings.is_empty() {
        return Ok(elf);
    }
    // DT_STRTAB is a virtual address: the PT_LOAD segment containing it maps it to the file.
    let strtab = strtab.ok_or_else(bad)?;
    let &(vaddr, off, _) = loads
        .iter()
        .find(|&&(v, _, sz)| v <= strtab && strtab < v.saturating_add(sz))
        .ok_or_else(bad)?;
    let table = read(off.saturating_add(strtab - vaddr), strsz)?;
    for (tag, v) in strings {
        let s = cstr(&table, v as usize).ok_or_else(bad)?.to_owned();
        match tag {
            DT_NEEDED => elf.needed.push(s),
            DT_RPATH => elf.rpath = Some(s),
            _ => elf.runpath = Some(s),
        }
    }
    Ok(elf)
}

/// /etc/ld.so.cache entries: (soname, flags) -> path.
type LdCache = HashMap<(OsString, u64), PathBuf>;

/// Parses the binary cache written by ldconfig (format "glibc-ld.so.cache1.1").
fn parse_ld_cache(data: &[u8]) -> LdCache {
    let mut cache = LdCache::new();
    // Old ldconfig versions put an "ld.so-1.7.0" table first; string offsets of the new
    // format are relative to the new header either way.
    let start = if data.starts_with(b"ld.so-1.7.0") {
        le(data, 12, 4).map_or(data.len(), |n| (16 + 12 * n as usize).next_multiple_of(8))
    } else {
        0
    };
    let Some(new) = data
        .get(start..)
        .filter(|d| d.starts_with(b"glibc-ld.so.cache1.1"))
    else {
        return cache;
    };
    let nlibs = le(new, 20, 4).unwrap_or(0) as usize;
    for e in (48..).step_by(24).take(nlibs) {
        let (Some(flags), Some(key), Some(value), Some(hwcap)) = (
            le(new, e, 4),
            le(new, e + 4, 4),
            le(new, e + 8, 4),
            le(new, e + 16, 8),
        ) else {
            break;
        };
        // Entries with hwcaps are CPU-specific variants; the root must work on any CPU.
        if hwcap != 0 {
            continue;
        }
        if let (Some(k), Some(v)) = (cstr(new, key as usize), cstr(new, value as usize)) {
            cache
                .entry((k.to_owned(), flags))
                .or_insert_with(|| v.into());
        }
    }
    cache
}

/// The cache flags glibc accepts for an object: libc6 ABI (3) plus the architecture's variant.
fn cache_flags(kind: (u8, u16)) -> Option<u64> {
    match kind {
        (2, 62) => Some(0x0303),  // x86-64
        (1, 3) => Some(0x0003),   // i386
        (2, 183) => Some(0x0a03), // aarch64
        _ => None,
    }
}

/// Expands $ORIGIN and ${ORIGIN}, which the loader honours in DT_NEEDED, DT_RPATH and
/// DT_RUNPATH.
fn expand_origin(mut rest: &[u8], origin: &Path) -> PathBuf {
    let mut out = Vec::new();
    while let Some(i) = rest.iter().position(|&b| b == b'$') {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i..];
        let after = rest.strip_prefix(b"${ORIGIN}");
        if let Some(after) = after.or_else(|| rest.strip_prefix(b"$ORIGIN")) {
            out.extend_from_slice(origin.as_os_str().as_bytes());
            rest = after;
        } else {
            out.push(b'$');
            rest = &rest[1..];
        }
    }
    out.extend_from_slice(rest);
    PathBuf::from(OsString::from_vec(out))
}

/// Directories of a DT_RPATH/DT_RUNPATH value.
fn search_dirs(list: Option<&OsString>, origin: &Path) -> Vec<PathBuf> {
    let Some(list) = list else { return Vec::new() };
    let dirs = list
        .as_bytes()
        .split(|&b| b == b':')
        .filter(|d| !d.is_empty());
    dirs.map(|d| expand_origin(d, origin)).collect()
}

/// Finds a needed library: RPATH chain, RUNPATH, ld.so.cache, default directories; candidates
/// of another class or machine are skipped, as the loader does.
fn find_library(
    name: &OsStr,
    rpath: &[PathBuf],
    runpath: &[PathBuf],
    kind: (u8, u16),
    cache: &LdCache,
) -> Option<(PathBuf, Elf)> {
    let candidates: Vec<PathBuf> = if name.as_bytes().contains(&b'/') {
        vec![std::path::absolute(name).ok()?]
    } else {
        let cached = cache_flags(kind).and_then(|f| cache.get(&(name.to_owned(), f)));
        rpath
            .iter()
            .chain(runpath)
            .map(|dir| dir.join(name))
            .chain(cached.cloned())
            .chain(DEFAULT_DIRS.iter().map(|dir| Path::new(dir).join(name)))
            .collect()
    };
    candidates
        .into_iter()
        .find_map(|p| read_elf(&p).ok().filter(|e| e.kind == kind).map(|e| (p, e)))
}

/// Every host path needed to run `programs`: themselves, their interpreters and all libraries.
pub fn closure(programs: &[PathBuf]) -> Result<Vec<PathBuf>, MkrootError> {
    let cache = fs::read(LD_SO_CACHE)
        .map(|d| parse_ld_cache(&d))
        .unwrap_or_default();
    let mut all = BTreeSet::new();
    for program in programs {
        let exe = std::path::absolute(program).at(program)?;
        let elf = read_elf(&exe)?;
        // The kernel gives ld.so the resolved executable, so a program's $ORIGIN follows
        // symlinks; a library's $ORIGIN is the directory it was found in.
        let real = fs::canonicalize(&exe).at(&exe)?;
        let origin = real.parent().unwrap_or(Path::new("/")).to_owned();
        // Each program is its own process: libraries are matched by name within it only.
        let mut seen = HashSet::new();
        if let Some(interp) = &elf.interp {
            fs::metadata(interp).map_err(|e| {
                err(
                    interp,
                    Why::Interpreter {
                        exe: exe.clone(),
                        err: e,
                    },
                )
            })?;
            all.insert(interp.clone());
            // ld.so is already loaded, so a DT_NEEDED of its soname matches it, not a search.
            seen.extend(interp.file_name().map(OsStr::to_owned));
        }
        all.insert(exe.clone());
        let kind = elf.kind;
        let mut queue = VecDeque::from([(exe, elf, origin, Vec::new())]);
        // Breadth-first like the loader, so each library's loader (and RPATH chain) matches.
        while let Some((path, elf, origin, inherited)) = queue.pop_front() {
            // An object with DT_RUNPATH ignores DT_RPATH entirely, its own and its loaders'.
            let runpath = search_dirs(elf.runpath.as_ref(), &origin);
            let mut chain = Vec::new();
            if elf.runpath.is_none() {
                chain = search_dirs(elf.rpath.as_ref(), &origin);
            }
            chain.extend(inherited);
            let rpath: &[PathBuf] = if elf.runpath.is_none() { &chain } else { &[] };
            for name in &elf.needed {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let wanted = expand_origin(name.as_bytes(), &origin);
                let missing = || err(&path, Why::NoLibrary(name.clone()));
                let (lib_path, lib) =
                    find_library(wanted.as_os_str(), rpath, &runpath, kind, &cache)
                        .ok_or_else(missing)?;
                let lib_origin = lib_path.parent().unwrap_or(Path::new("/")).to_owned();
                all.insert(lib_path.clone());
                queue.push_back((lib_path, lib, lib_origin, chain.clone()));
            }
        }
    }
    Ok(all.into_iter().collect())
}

/// The new root: a directory descriptor for writing beneath it, and its host path for errors.
struct Root {
    fd: OwnedFd,
    dir: PathBuf,
}

impl Root {
    /// Opens (creating if needed) the root itself; the caller chose it, so it may be reached
    /// through symlinks.
    fn open(dir: &Path) -> Result<Root, MkrootError> {
        let existed = dir.exists();
        fs::create_dir_all(dir).at(dir)?;
        let fd = OwnedFd::from(File::open(dir).at(dir)?);
        if !existed {
            fchmod(&fd, Mode::from_bits_truncate(0o755)).at(dir)?;
        }
        let dir = dir.to_owned();
        Ok(Root { fd, dir })
    }

    /// Host path of the in-root path `at`, for error messages.
    fn host(&self, at: &Path) -> PathBuf {
        self.dir.join(at.strip_prefix("/").unwrap_or(at))
    }

    /// Opens directory `at`, creating missing components one at a time and refusing
    /// symlinks, so nothing planted in the root can redirect a write outside it.
    fn open_dir(&self, at: &Path) -> Result<OwnedFd, MkrootError> {
        let mut fd = self.fd.try_clone().at(&self.dir)?;
        let mut walked = PathBuf::from("/");
        for c in at.components() {
            let name = match c {
                Component::Normal(name) => name,
                Component::ParentDir => return Err(err(self.host(at), "'..' is not allowed")),
                _ => continue,
            };
            walked.push(name);
            let host = self.host(&walked);
            let created = match mkdirat(&fd, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(e) => return Err(err(host, e)),
            };
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            fd = openat(&fd, name, flags, Mode::empty()).map_err(|e| match e {
                Errno::ELOOP | Errno::ENOTDIR => err(&host, "not a directory (refusing symlinks)"),
                e => err(&host, e),
            })?;
            // The umask may have narrowed the mode; other uids must be able to traverse.
            if created {
                fchmod(&fd, Mode::from_bits_truncate(0o755)).at(&host)?;
            }
        }
        Ok(fd)
    }

    /// Parent directory and file name of `at`, and a temporary name beside it.
    fn parent_of<'a>(&self, at: &'a Path) -> Result<(OwnedFd, &'a OsStr, OsString), MkrootError> {
        let name = at
            .file_name()
            .ok_or_else(|| err(self.host(at), "no file name"))?;
        let dir = self.open_dir(at.parent().unwrap_or(Path::new("/")))?;
        let mut tmp = OsString::from(".");
        tmp.push(name);
        tmp.push(".sbox-tmp");
        // A leftover of an interrupted run; if removal fails, creating it reports why.
        let _ = unlinkat(&dir, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        Ok((dir, name, tmp))
    }

    /// Writes `at` under a temporary name and renames it into place, so rebuilding never
    /// writes into a running executable (ETXTBSY) nor through a planted symlink.
    fn put_file(
        &self,
        at: &Path,
        mut content: impl io::Read,
        mode: u32,
    ) -> Result<(), MkrootError> {
        let (dir, name, tmp) = self.parent_of(at)?;
        let host = self.host(at);
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let mode_rw = Mode::S_IRUSR | Mode::S_IWUSR;
        let fd = openat(&dir, tmp.as_os_str(), flags | OFlag::O_CLOEXEC, mode_rw).at(&host)?;
        let mut file = File::from(fd);
        io::copy(&mut content, &mut file).at(&host)?;
        fchmod(&file, Mode::from_bits_truncate(mode)).at(&host)?;
        renameat(&dir, tmp.as_os_str(), &dir, name).at(&host)
    }

    /// Makes `at` a symlink to `target`, replacing an older symlink but nothing else.
    fn put_symlink(&self, at: &Path, target: &Path) -> Result<(), MkrootError> {
        let (dir, name, tmp) = self.parent_of(at)?;
        let host = self.host(at);
        match readlinkat(&dir, name) {
            Ok(old) if old == target.as_os_str() => return Ok(()),
            Ok(_) | Err(Errno::ENOENT) => {}
            Err(Errno::EINVAL) => return Err(err(host, "exists and is not a symlink")),
            Err(e) => return Err(err(host, e)),
        }
        symlinkat(target, &dir, tmp.as_os_str()).at(&host)?;
        renameat(&dir, tmp.as_os_str(), &dir, name).at(&host)
    }

    /// Copies host file `src` to `at`, readable (and, if executable at all, executable) by
    /// every uid; setuid/setgid are dropped since a copy made as root must not grant privilege.
    fn copy_file(&self, src: &Path, at: &Path) -> Result<(), MkrootError> {
        let file = File::open(src).at(src)?;
        let mode = file.metadata().at(src)?.permissions().mode() & 0o777 | 0o444;
        let mode = if mode & 0o111 != 0 {
            mode | 0o111
        } else {
            mode
        };
        self.put_file(at, file, mode)
    }

    /// Installs host path `host` at the same path, recreating every symlink met on the way
    /// (and installing its target) so both the symlinked and the real path work inside.
    fn install(&self, host: &Path) -> Result<(), MkrootError> {
        let parts = |p: &Path| -> Vec<OsString> {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_owned()),
                    Component::ParentDir => Some("..".into()),
                    _ => None,
                })
                .collect()
        };
        let mut pending = VecDeque::from(parts(host));
        // `cur` never contains a symlink, so it names the same directory on the host and in
        // the root, and ".." can be applied lexically.
        let mut cur = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                cur.pop();
                continue;
            }
            let src = cur.join(&part);
            let ft = fs::symlink_metadata(&src).at(&src)?.file_type();
            if ft.is_symlink() {
                links += 1;
                if links > 40 {
                    return Err(err(host, "too many levels of symbolic links"));
                }
                let target = fs::read_link(&src).at(&src)?;
                self.put_symlink(&src, &target)?;
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for p in parts(&target).into_iter().rev() {
                    pending.push_front(p);
                }
            } else if ft.is_dir() {
                self.open_dir(&src)?;
                cur = src;
            } else if ft.is_file() && pending.is_empty() {
                self.copy_file(&src, &src)?;
            } else {
                return Err(err(&src, "neither a directory nor a regular file"));
            }
        }
        Ok(())
    }

    /// Mount points, a world-writable /tmp, and passwd/group entries for root and the
    /// caller, so that `id` works inside.
    fn skeleton(&self) -> Result<(), MkrootError> {
        for d in ["proc", "dev", "sys", "etc"] {
            self.open_dir(Path::new(d))?;
        }
        let tmp = self.open_dir(Path::new("tmp"))?;
        fchmod(&tmp, Mode::from_bits_truncate(0o1777)).at(self.host(Path::new("tmp")))?;
        let (uid, gid) = (getuid(), getgid());
        crate::nss::builtin_only();
        let mut passwd = String::from("root:x:0:0:root:/root:/bin/sh\n");
        let mut group = String::from("root:x:0:\n");
        if !uid.is_root() {
            let user = User::from_uid(uid).ok().flatten();
            let name = user.map_or("sbox-user".into(), |u| u.name);
            passwd += &format!("{name}:x:{uid}:{gid}::/:/bin/sh\n");
        }
        if gid.as_raw() != 0 {
            let grp = Group::from_gid(gid).ok().flatten();
            let name = grp.map_or("sbox-user".into(), |g| g.name);
            group += &format!("{name}:x:{gid}:\n");
        }
        self.put_file(Path::new("/etc/passwd"), passwd.as_bytes(), 0o644)?;
        self.put_file(Path::new("/etc/group"), group.as_bytes(), 0o644)
    }
}

/// Builds a root in `dir` holding `programs` (names or paths) and everything they need.
/// Returns the host paths installed, which are the same paths inside the root.
pub fn build(dir: &Path, programs: &[OsString]) -> Result<Vec<PathBuf>, MkrootError> {
    let programs: Vec<PathBuf> = programs
        .iter()
        .map(|p| resolve_program(p))
        .collect::<Result<_, _>>()?;
    let paths = closure(&programs)?;
    let root = Root::open(dir)?;
    root.skeleton()?;
    for link in USR_MERGE_LINKS {
        if fs::symlink_metadata(link).is_ok_and(|m| m.is_symlink()) {
            root.install(Path::new(link))?;
        }
    }
    for path in &paths {
        root.install(path)?;
    }
    Ok(paths)
}

/// Builds a root in `dir` from a static busybox: bin/busybox plus one symlink per applet in
/// bin/. Returns the in-root paths created.
pub fn build_busybox(dir: &Path, busybox: &Path) -> Result<Vec<PathBuf>, MkrootError> {
    let elf = read_elf(busybox)?;
    if elf.interp.is_some() || !elf.needed.is_empty() {
        return Err(err(busybox, "not statically linked"));
    }
    let out = Command::new(busybox).arg("--list").output().at(busybox)?;
    if !out.status.success() {
        return Err(err(busybox, Why::List(out.status)));
    }
    let root = Root::open(dir)?;
    root.skeleton()?;
    let bin = Path::new("/bin");
    root.copy_file(busybox, &bin.join("busybox"))?;
    let mut installed = vec![bin.join("busybox")];
    for applet in out.stdout.split(|&b| b == b'\n') {
        // Only plain names that cannot leave bin/ or replace the binary itself.
        if matches!(applet, b"" | b"." | b".." | b"busybox") || applet.contains(&b'/') {
            continue;
        }
        let at = bin.join(OsStr::from_bytes(applet));
        root.put_symlink(&at, Path::new("busybox"))?;
        installed.push(at);
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sbox-mkroot-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn names(paths: &[PathBuf]) -> Vec<&OsStr> {
        paths.iter().filter_map(|p| p.file_name()).collect()
    }

    #[test]
    fn closure_of_sh_has_interpreter_and_libc() {
        let paths = closure(&[PathBuf::from("/bin/sh")]).unwrap();
        assert!(paths.contains(&PathBuf::from("/bin/sh")), "{paths:?}");
        assert!(
            paths.contains(&PathBuf::from("/lib64/ld-linux-x86-64.so.2")),
            "{paths:?}"
        );
        assert!(
            names(&paths).contains(&OsStr::new("libc.so.6")),
            "{paths:?}"
        );
    }

    #[test]
    fn closure_of_ls_is_complete() {
        let paths = closure(&[PathBuf::from("/usr/bin/ls")]).unwrap();
        let have = names(&paths);
        // Every DT_NEEDED of every member is itself a member (libselinux -> libpcre2 on Debian).
        for p in &paths {
            for needed in read_elf(p).unwrap().needed {
                assert!(
                    have.contains(&needed.as_os_str()),
                    "{p:?} needs {needed:?}: {paths:?}"
                );
            }
        }
        if read_elf(Path::new("/usr/bin/ls"))
            .unwrap()
            .needed
            .iter()
            .any(|n| n == "libselinux.so.1")
        {
            assert!(
                have.iter().any(|n| n.as_bytes().starts_with(b"libpcre2")),
                "{paths:?}"
            );
        }
    }

    #[test]
    fn ld_cache_finds_libc() {
        let Ok(data) = fs::read(LD_SO_CACHE) else {
            return crate::skip_or_fail("ld_cache_finds_libc", &format!("no {LD_SO_CACHE}"));
        };
        let cache = parse_ld_cache(&data);
        let libc = &cache[&("libc.so.6".into(), 0x0303)];
        assert!(libc.is_absolute() && libc.exists(), "{libc:?}");
    }

    #[test]
    fn origin_is_expanded() {
        let dirs = search_dirs(
            Some(&"$ORIGIN/../lib:${ORIGIN}:/x/$LIB".into()),
            Path::new("/o"),
        );
        assert_eq!(
            dirs,
            [
                Path::new("/o/../lib"),
                Path::new("/o"),
                Path::new("/x/$LIB")
            ]
        );
    }

    #[test]
    fn missing_program_and_non_elf_are_errors() {
        assert!(resolve_program(OsStr::new("sbox-no-such-program")).is_err());
        let e = read_elf(Path::new("/etc/passwd")).unwrap_err();
        assert_eq!(e.to_string(), "/etc/passwd: not an ELF file");
    }

    #[test]
    fn build_then_chroot() {
        let dir = scratch("build");
        let progs: Vec<OsString> = ["sh", "cat", "ls", "id"].map(OsString::from).into();
        let installed = build(&dir, &progs).unwrap();
        assert_eq!(
            build(&dir, &progs).unwrap(),
            installed,
            "second build differs"
        );
        assert!(
            fs::symlink_metadata(dir.join("lib64"))
                .unwrap()
                .is_symlink()
        );
        assert!(dir.join("bin/sh").exists() && dir.join("lib64/ld-linux-x86-64.so.2").exists());
        let tmp_mode = fs::metadata(dir.join("tmp")).unwrap().permissions().mode();
        assert_eq!(tmp_mode & 0o7777, 0o1777);
        for p in &installed {
            let mode = fs::metadata(dir.join(p.strip_prefix("/").unwrap()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o444, 0o444, "{p:?} not world-readable");
        }
        if getuid().is_root() {
            let out = Command::new("chroot")
                .arg(&dir)
                .args(["/bin/sh", "-c", "echo ok; id -un"])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "ok\nroot\n",
                "{out:?}"
            );
        } else {
            crate::skip_or_fail("build_then_chroot", "not root: the chroot part did not run");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_to_write_through_symlinks() {
        let dir = scratch("evil");
        let outside = scratch("outside");
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("usr")).unwrap();
        let e = build(&dir, &["/usr/bin/true".into()]).unwrap_err();
        assert!(e.why.to_string().contains("symlink"), "{e}");
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "wrote outside the root"
        );
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn busybox_root() {
        let busybox = Path::new("/bin/busybox");
        if !busybox.exists() {
            return crate::skip_or_fail(
                "busybox_root",
                &format!("no {} (Debian: busybox-static)", busybox.display()),
            );
        }
        let dir = scratch("busybox");
        let installed = build_busybox(&dir, busybox).unwrap();
        assert!(
            installed.contains(&PathBuf::from("/bin/sh")),
            "{installed:?}"
        );
        assert_eq!(
            fs::read_link(dir.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        build_busybox(&dir, busybox).unwrap();
        if getuid().is_root() {
            let out = Command::new("chroot")
                .arg(&dir)
                .args(["/bin/sh", "-c", "echo ok"])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{out:?}");
        } else {
            crate::skip_or_fail("busybox_root", "not root: the chroot part did not run");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! `plastic fetch`: downloads a dataset's files into the layout the loaders read
//! (`<data-dir>/mnist/train-images-idx3-ubyte.gz`, ...), each checked against the SHA-256
//! kept in [`checksums`] before it takes its final name.
//!
//! Every file goes to a fresh temporary file in the target folder, is fsynced, verified, and
//! only then renamed, so an interrupted or corrupted download never leaves a file the
//! trainer could read. A file already present with the right contents is skipped, so
//! running the command again resumes where it stopped (per file). Mirrors are tried in
//! order; `--mirror` replaces them with one of your own (an `http://` or `https://` URL, or
//! a local folder). HTTPS goes through rustls with bundled web roots.
//!
//! CIFAR-10 is published upstream only as one `cifar-10-binary.tar.gz`: it is downloaded to a
//! temporary file, checked against the archive's published SHA-256, and only then unpacked,
//! each batch file again through a temporary file of its own; the archive is removed after.

pub mod checksums;

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use plastic_trainer::data::DatasetKind;
use sha2::{Digest, Sha256};

use checksums::{ArchiveSum, FileSum};

/// Largest download accepted for one file (the biggest, Fashion-MNIST's training images, is
/// 26 MB gzipped), so a misbehaving server cannot fill the disk.
const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// Largest unpacked size read from an archive (CIFAR-10's tar is 184 MB), so that a
/// decompression bomb costs time, not memory or disk.
const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// Arguments of `plastic fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which dataset: mnist and fashion-mnist file by file, cifar10 as its one upstream
    /// archive (170 MB), unpacked after its checksum is verified.
    #[arg(long, value_enum, ignore_case = true)]
    dataset: DatasetKind,
    /// Folder to download into; files land in `DIR/<dataset>/` (`DIR/mnist/`, ...), where
    /// `--data-dir DIR` of the other commands and plastic-train finds them.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Download from this mirror instead of the built-in ones: a URL (http:// or https://)
    /// or a local folder holding the dataset's files under their usual names.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
}

/// Where the files of `kind` are served today, tried in order.
pub fn mirrors(kind: DatasetKind) -> &'static [&'static str] {
    match kind {
        DatasetKind::Mnist => &[
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ],
        DatasetKind::FashionMnist => &[
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ],
        DatasetKind::Cifar10 => &[
            "https://www.cs.toronto.edu/~kriz/",
            "https://storage.googleapis.com/s4tf-hosted-binaries/datasets/CIFAR10/",
        ],
    }
}

/// Runs `plastic fetch`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let kind = args.dataset;
    let dir = args.data_dir.join(kind.subdir());
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let sources: Vec<String> = match &args.mirror {
        Some(m) => vec![m.clone()],
        None => mirrors(kind).iter().map(|m| m.to_string()).collect(),
    };
    let agent = agent();
    let Some(files) = checksums::files(kind) else {
        let archive = checksums::archive(kind)
            .with_context(|| format!("no files or archive known for {}", kind.name()))?;
        let unpacked = fetch_archive(&agent, &sources, &dir, archive)?;
        return crate::io::print_stdout(&format!(
            "{}: {} files in {} ({unpacked} unpacked from {}, SHA-256 verified; {} already \
             present)\n",
            kind.name(),
            archive.members.len(),
            dir.display(),
            archive.name,
            archive.members.len() - unpacked
        ));
    };
    let (mut fetched, mut present) = (0, 0);
    for sum in files {
        match fetch_file(&agent, &sources, &dir, sum)? {
            Outcome::Present => present += 1,
            Outcome::Downloaded => fetched += 1,
        }
    }
    crate::io::print_stdout(&format!(
        "{}: {} files in {} ({fetched} downloaded, {present} already present), SHA-256 verified\n",
        kind.name(),
        files.len(),
        dir.display()
    ))
}

/// Makes `dir` hold every member of `archive`: the members already there (raw or gzipped,
/// of the right length) are kept; if any is missing, the archive is downloaded from the first
/// source that serves it with the right checksum and the missing members are unpacked.
/// Returns how many were unpacked.
pub fn fetch_archive(
    agent: &ureq::Agent,
    sources: &[String],
    dir: &Path,
    archive: &ArchiveSum,
) -> anyhow::Result<usize> {
    let missing: Vec<(&str, u64)> = archive
        .members
        .iter()
        .copied()
        .filter(|&(name, len)| !member_present(dir, name, len))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "{}: all {} files present (raw ones of the right length, or gzipped; the \
             archive's checksum covered them when they were unpacked)",
            dir.display(),
            archive.members.len()
        );
        return Ok(0);
    }
    let mut failures = Vec::new();
    for source in sources {
        let url = join_url(source, archive.name);
        eprintln!(
            "{}: downloading {url} ({} MB)",
            dir.display(),
            archive.len >> 20
        );
        match download_archive(agent, &url, dir, archive)
            .and_then(|file| unpack(&file.path, dir, archive.folder, &missing))
        {
            Ok(()) => return Ok(missing.len()),
            Err(e) => {
                eprintln!("  failed: {e:#}");
                failures.push(format!("{url}: {e:#}"));
            }
        }
    }
    bail!(
        "could not fetch {} into {}; no partial file was left there. Tried:\n  {}\n(pass \
         --mirror URL for another source: a folder or server holding {})",
        archive.name,
        dir.display(),
        failures.join("\n  "),
        archive.name
    )
}

/// Whether `dir` holds member `name`, raw with `len` bytes or gzipped.
fn member_present(dir: &Path, name: &str, len: u64) -> bool {
    let raw = dir.join(name);
    raw.metadata().is_ok_and(|m| m.is_file() && m.len() == len)
        || dir.join(format!("{name}.gz")).is_file()
}

/// Downloads `archive` into a temporary file in `dir` and checks its length and SHA-256;
/// the file is removed when the returned guard drops.
fn download_archive(
    agent: &ureq::Agent,
    url: &str,
    dir: &Path,
    archive: &ArchiveSum,
) -> anyhow::Result<TempFile> {
    let temp = TempFile::new(&dir.join(archive.name))?;
    let mut file = File::options()
        .write(true)
        .open(&temp.path)
        .with_context(|| format!("could not open {}", temp.path.display()))?;
    let mut hasher = Sha256::new();
    let mut body = open(agent, url)?.take(archive.len + 1);
    // Hashed as it is written: the 170 MB are not read back.
    let len = io::copy(
        &mut body,
        &mut HashWriter {
            hasher: &mut hasher,
            inner: &mut file,
        },
    )
    .with_context(|| format!("download of {} broke off", archive.name))?;
    let digest = hex(&hasher.finalize());
    if digest != archive.sha256 || len != archive.len {
        bail!(
            "{}: wrong checksum: SHA-256 {digest} ({len} bytes), expected {} ({} bytes): the \
             download is corrupted or not the right file",
            archive.name,
            archive.sha256,
            archive.len
        );
    }
    Ok(temp)
}

/// Unpacks the `wanted` members of the gzipped tar `path` from its folder `folder` into
/// `dir`, each through a temporary file renamed once complete and of the right length.
fn unpack(path: &Path, dir: &Path, folder: &str, wanted: &[(&str, u64)]) -> anyhow::Result<()> {
    let gz = flate2::read::GzDecoder::new(BufReader::new(File::open(path)?));
    let mut tar = tar::Archive::new(gz.take(MAX_UNPACKED_BYTES));
    let mut done = Vec::new();
    for entry in tar.entries().context("not a tar.gz archive")? {
        let mut entry = entry.context("the archive is damaged")?;
        let entry_path = entry.path().context("the archive is damaged")?.into_owned();
        let in_folder = entry_path.parent() == Some(Path::new(folder));
        let Some(&(name, len)) = wanted.iter().find(|(name, _)| {
            in_folder && entry_path.file_name() == Some(std::ffi::OsStr::new(name))
        }) else {
            continue;
        };
        let target = dir.join(name);
        install_checked(&mut (&mut entry).take(len + 1), &target, |temp| {
            let found = fs::metadata(temp)?.len();
            if found != len {
                bail!("{name} in the archive has {found} bytes, expected {len}");
            }
            Ok(())
        })?;
        eprintln!("{}: unpacked", target.display());
        done.push(name);
    }
    let absent: Vec<&str> = wanted
        .iter()
        .map(|&(name, _)| name)
        .filter(|name| !done.contains(name))
        .collect();
    if !absent.is_empty() {
        bail!("the archive has no {} in {folder}/", absent.join(", "));
    }
    Ok(())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("plastic/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already there with the right contents: not downloaded.
    Present,
    /// Downloaded, verified and renamed into place.
    Downloaded,
}

/// Makes `dir/sum.name` hold the right contents: skipped when it already does (or when the
/// raw, un-gzipped file does), else downloaded from the first source that serves it right.
fn fetch_file(
    agent: &ureq::Agent,
    sources: &[String],
    dir: &Path,
    sum: &FileSum,
) -> anyhow::Result<Outcome> {
    let target = dir.join(sum.name);
    let raw = dir.join(sum.name.trim_end_matches(".gz"));
    for existing in [&target, &raw] {
        if existing.is_file() {
            match verify(existing, sum) {
                Ok(()) => {
                    eprintln!("{}: present, checksum ok", existing.display());
                    return Ok(Outcome::Present);
                }
                Err(e) if existing == &target => {
                    eprintln!("{e:#}; downloading it again")
                }
                Err(_) => {}
            }
        }
    }
    let mut failures = Vec::new();
    for source in sources {
        let url = join_url(source, sum.name);
        eprintln!("{}: downloading {url}", target.display());
        match download_verified(agent, &url, &target, sum) {
            Ok(()) => return Ok(Outcome::Downloaded),
            Err(e) => {
                eprintln!("  failed: {e:#}");
                failures.push(format!("{url}: {e:#}"));
            }
        }
    }
    bail!(
        "could not fetch {}; nothing was written there. Tried:\n  {}\n(pass --mirror URL to \
         use another source, for example a folder or server holding a copy)",
        target.display(),
        failures.join("\n  ")
    )
}

/// `base` + `/` + `name`, with one slash between them.
fn join_url(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

/// Opens `url` for reading: an HTTP(S) response body, or a local file for a folder or
/// `file://` mirror.
fn open(agent: &ureq::Agent, url: &str) -> anyhow::Result<Box<dyn Read>> {
    if url.starts_with("http://") || url.starts_with("https://") {
        let response = agent.get(url).call().map_err(|e| anyhow::anyhow!("{e}"))?;
        let body = response
            .into_body()
            .into_with_config()
            .limit(MAX_DOWNLOAD_BYTES)
            .reader();
        Ok(Box::new(body))
    } else {
        let path = url.strip_prefix("file://").unwrap_or(url);
        let file = File::open(path).with_context(|| format!("could not open {path}"))?;
        Ok(Box::new(file.take(MAX_DOWNLOAD_BYTES)))
    }
}

fn download_verified(
    agent: &ureq::Agent,
    url: &str,
    target: &Path,
    sum: &FileSum,
) -> anyhow::Result<()> {
    let mut body = open(agent, url)?;
    install_verified(&mut body, target, sum)
}

/// Copies `source` into a fresh temporary file next to `target`, fsyncs it, checks its
/// contents against `sum`, and only then renames it to `target`. On any failure the
/// temporary file is removed and `target` is left as it was.
pub fn install_verified(source: &mut dyn Read, target: &Path, sum: &FileSum) -> anyhow::Result<()> {
    install_checked(source, target, |temp| verify(temp, sum))
}

/// Copies `source` into a fresh temporary file next to `target`, fsyncs it, runs `check` on
/// it, and only then renames it to `target`. On any failure the temporary file is removed,
/// `target` is left as it was, and the error names `target`, not the temporary file.
fn install_checked(
    source: &mut dyn Read,
    target: &Path,
    check: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let temp = TempFile::new(target)?;
    {
        let mut file = File::options()
            .write(true)
            .open(&temp.path)
            .with_context(|| format!("could not open {}", temp.path.display()))?;
        io::copy(source, &mut file)
            .with_context(|| format!("download of {} broke off", file_name(target)))?;
        file.flush()?;
        file.sync_all()
            .with_context(|| format!("could not sync {}", temp.path.display()))?;
    }
    check(&temp.path).map_err(|e| {
        anyhow::anyhow!(
            "{}",
            format!("{e:#}").replacen(&temp.path.display().to_string(), &file_name(target), 1)
        )
    })?;
    fs::rename(&temp.path, target).with_context(|| {
        format!(
            "could not rename {} to {}",
            temp.path.display(),
            target.display()
        )
    })?;
    temp.disarm();
    if let Some(dir) = target.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Checks that `path`'s contents (gunzipped when it starts with the gzip magic) have the
/// length and SHA-256 of `sum`; the error names the file and both hashes.
pub fn verify(path: &Path, sum: &FileSum) -> anyhow::Result<()> {
    let (len, digest) =
        content_digest(path, sum.len).with_context(|| format!("{}", path.display()))?;
    if digest != sum.sha256 || len != sum.len {
        bail!(
            "{}: wrong checksum: its contents (gunzipped) have SHA-256 {digest} ({len} bytes), \
             expected {} ({} bytes): the download is corrupted or not the right file",
            path.display(),
            sum.sha256,
            sum.len
        );
    }
    Ok(())
}

/// Length and SHA-256 (hex) of `path`'s contents, gunzipped when gzip; reads at most
/// `expect + 1` content bytes, so a gzip bomb costs nothing.
fn content_digest(path: &Path, expect: u64) -> anyhow::Result<(u64, String)> {
    let mut file = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut file, &mut magic)?;
    let head = io::Cursor::new(magic[..got].to_vec());
    let stream = head.chain(file);
    let mut hasher = Sha256::new();
    let mut sink = HashWriter {
        hasher: &mut hasher,
        inner: io::sink(),
    };
    let len = if magic == [0x1f, 0x8b] {
        let mut gz = flate2::read::MultiGzDecoder::new(stream).take(expect + 1);
        io::copy(&mut gz, &mut sink).context("not valid gzip: damaged or cut short")?
    } else {
        io::copy(&mut stream.take(expect + 1), &mut sink)?
    };
    Ok((len, hex(&hasher.finalize())))
}

/// Lower-case hex of a digest.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Writes through to `inner` and hashes what was written.
struct HashWriter<'a, W: Write> {
    hasher: &'a mut Sha256,
    inner: W,
}

impl<W: Write> Write for HashWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A temporary file next to its target, removed when dropped unless disarmed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Creates `.<name>.<pid>.<n>.part` in `target`'s folder; never reuses an existing name.
    fn new(target: &Path) -> anyhow::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = target.parent().unwrap_or(Path::new("."));
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                ".{}.{}.{n}.part",
                file_name(target),
                std::process::id()
            ));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Self { path, armed: true }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("could not create {}", path.display()));
                }
            }
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        super::hex(&Sha256::digest(bytes))
    }

    fn sum_of(content: &[u8]) -> FileSum {
        FileSum {
            name: "t.gz",
            len: content.len() as u64,
            sha256: Box::leak(hex(content).into_boxed_str()),
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plastic-fetch-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn good_download_is_renamed_into_place() {
        let dir = temp_dir("good");
        let content = b"canonical bytes".repeat(1000);
        let sum = sum_of(&content);
        let target = dir.join("t.gz");
        install_verified(&mut &gz(&content)[..], &target, &sum).unwrap();
        assert_eq!(entries(&dir), ["t.gz"]);
        verify(&target, &sum).unwrap();
        // A raw (not gzipped) copy of the same contents verifies too.
        fs::write(dir.join("raw"), &content).unwrap();
        verify(&dir.join("raw"), &sum).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_contents_leave_nothing_and_name_both_hashes() {
        let dir = temp_dir("wrong");
        let content = b"canonical bytes".repeat(1000);
        let sum = sum_of(&content);
        let target = dir.join("t.gz");
        let other = b"other bytes....".repeat(1000);
        let err = install_verified(&mut &gz(&other)[..], &target, &sum).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("t.gz"), "{msg}");
        assert!(msg.contains(sum.sha256), "{msg}");
        assert!(msg.contains(&hex(&other)), "{msg}");
        assert!(!msg.contains(".part"), "{msg}");
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_gzip_leaves_nothing_and_keeps_an_existing_file() {
        let dir = temp_dir("damaged");
        let content = b"canonical bytes".repeat(1000);
        let sum = sum_of(&content);
        let target = dir.join("t.gz");
        fs::write(&target, b"an older file").unwrap();
        let mut bytes = gz(&content);
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        bytes.truncate(bytes.len() - 4);
        let err = install_verified(&mut &bytes[..], &target, &sum).unwrap_err();
        assert!(format!("{err:#}").contains("t.gz"), "{err:#}");
        assert_eq!(entries(&dir), ["t.gz"]);
        assert_eq!(fs::read(&target).unwrap(), b"an older file");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A gzipped tar holding `box/<name>` for each member, plus a decoy outside the folder.
    fn tarball(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        let mut add = |path: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, bytes).unwrap();
        };
        add("elsewhere/a.bin", b"not this one");
        for (name, bytes) in members {
            add(&format!("box/{name}"), bytes);
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn archive_sum(bytes: &[u8], members: &[(&'static str, u64)]) -> ArchiveSum {
        ArchiveSum {
            name: "set.tar.gz",
            len: bytes.len() as u64,
            sha256: Box::leak(hex(bytes).into_boxed_str()),
            folder: "box",
            members: Box::leak(members.to_vec().into_boxed_slice()),
        }
    }

    /// Serves `bytes` as `set.tar.gz` from a folder mirror.
    fn mirror_with(tag: &str, bytes: &[u8]) -> (PathBuf, Vec<String>) {
        let mirror = temp_dir(tag);
        fs::write(mirror.join("set.tar.gz"), bytes).unwrap();
        let sources = vec![mirror.display().to_string()];
        (mirror, sources)
    }

    #[test]
    fn an_archive_is_verified_then_only_its_missing_members_are_unpacked() {
        let (a, b) = (b"first member".repeat(50), b"second".repeat(70));
        let bytes = tarball(&[("a.bin", &a), ("b.bin", &b)]);
        let sum = archive_sum(
            &bytes,
            &[("a.bin", a.len() as u64), ("b.bin", b.len() as u64)],
        );
        let (mirror, sources) = mirror_with("archive-mirror", &bytes);
        let dir = temp_dir("archive");
        // b.bin is there already (gzipped, as the shared data keeps them): only a.bin comes.
        fs::write(dir.join("b.bin.gz"), gz(&b)).unwrap();
        assert_eq!(fetch_archive(&agent(), &sources, &dir, &sum).unwrap(), 1);
        assert_eq!(fs::read(dir.join("a.bin")).unwrap(), a);
        assert_eq!(
            entries(&dir),
            ["a.bin", "b.bin.gz"],
            "no archive or temp left"
        );
        // Everything present: nothing is downloaded (the mirror is gone).
        fs::remove_dir_all(&mirror).unwrap();
        assert_eq!(fetch_archive(&agent(), &sources, &dir, &sum).unwrap(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wrong_archive_or_member_leaves_nothing() {
        let a = b"first member".repeat(50);
        let bytes = tarball(&[("a.bin", &a)]);
        let dir = temp_dir("archive-wrong");
        // The archive's checksum does not match: both hashes named, nothing written.
        let mut sum = archive_sum(&bytes, &[("a.bin", a.len() as u64)]);
        sum.sha256 = "00";
        let (mirror, sources) = mirror_with("archive-wrong-mirror", &bytes);
        let err = format!(
            "{:#}",
            fetch_archive(&agent(), &sources, &dir, &sum).unwrap_err()
        );
        assert!(
            err.contains(&hex(&bytes)) && err.contains("expected 00"),
            "{err}"
        );
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        // The archive is right but a member is not as long as it must be.
        let sum = archive_sum(&bytes, &[("a.bin", a.len() as u64 + 1)]);
        let err = format!(
            "{:#}",
            fetch_archive(&agent(), &sources, &dir, &sum).unwrap_err()
        );
        assert!(err.contains("a.bin"), "{err}");
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        // A member the archive lacks.
        let sum = archive_sum(&bytes, &[("a.bin", a.len() as u64), ("c.bin", 3)]);
        let err = format!(
            "{:#}",
            fetch_archive(&agent(), &sources, &dir, &sum).unwrap_err()
        );
        assert!(err.contains("no c.bin"), "{err}");
        fs::remove_dir_all(&mirror).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join_url("http://h/a/", "f.gz"), "http://h/a/f.gz");
        assert_eq!(join_url("http://h/a", "f.gz"), "http://h/a/f.gz");
    }

    #[test]
    fn every_dataset_has_mirrors_and_checksums() {
        for kind in [
            DatasetKind::Mnist,
            DatasetKind::FashionMnist,
            DatasetKind::Cifar10,
        ] {
            assert!(!mirrors(kind).is_empty());
            assert!(checksums::files(kind).is_some() != checksums::archive(kind).is_some());
        }
    }
}

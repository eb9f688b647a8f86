//! `plastic fetch` against a tiny local HTTP/1.1 server serving copies of the real dataset
//! files: it writes the files the loaders read, `plastic eval` runs on them, a second fetch
//! downloads nothing, and corrupted bytes fail with a clear error and leave no file. Skips
//! without the shared data.

mod common;

use common::{INT8, data_dir, plastic};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plastic-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How the server mangles what it serves.
#[derive(Clone, Copy)]
enum Serve {
    /// The files as they are.
    Faithful,
    /// One byte in the middle of each file flipped (a damaged transfer).
    FlipByte,
    /// Another dataset's file of the same name (valid gzip, wrong contents).
    Other,
}

/// Starts a server on 127.0.0.1 serving `folder/<name>` for `GET /<name>` (or
/// `other/<name>` in [`Serve::Other`] mode); returns its base URL and a request counter.
fn serve(folder: PathBuf, other: PathBuf, mode: Serve) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" || line == "\n" => break,
                    Ok(_) => {}
                }
            }
            let name = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let from = match mode {
                Serve::Other => &other,
                _ => &folder,
            };
            let body = if name.contains('/') || name.contains("..") {
                None
            } else {
                std::fs::read(from.join(&name)).ok()
            };
            let _ = match body {
                Some(mut bytes) => {
                    if let Serve::FlipByte = mode {
                        let mid = bytes.len() / 2;
                        bytes[mid] ^= 0x55;
                    }
                    write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        bytes.len()
                    )
                    .and_then(|()| stream.write_all(&bytes))
                }
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    (url, count)
}

fn eval_json(data: &Path) -> serde_json::Value {
    let out = plastic(&["eval", INT8, "--data-dir", data.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn fetch(url: &str, dir: &Path) -> Output {
    plastic(&[
        "fetch",
        "--dataset",
        "mnist",
        "--data-dir",
        dir.to_str().unwrap(),
        "--mirror",
        url,
    ])
}

#[test]
fn fetch_writes_verified_files_that_eval_reads_and_skips_them_next_time() {
    let Some(shared) = data_dir() else { return };
    let (url, requests) = serve(
        shared.join("mnist"),
        shared.join("fashion-mnist"),
        Serve::Faithful,
    );
    let dir = fresh_dir("ok");
    let out = fetch(&url, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(requests.load(Ordering::SeqCst), 4, "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 downloaded"), "{stdout}");
    let mut names: Vec<String> = std::fs::read_dir(dir.join("mnist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = MNIST_FILES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "only the four files, no temporary ones");
    for name in MNIST_FILES {
        assert_eq!(
            std::fs::read(dir.join("mnist").join(name)).unwrap(),
            std::fs::read(shared.join("mnist").join(name)).unwrap(),
            "{name}"
        );
    }

    // The loaders read what fetch wrote: the same score as on the shared copy.
    let fetched = eval_json(&dir);
    let reference = eval_json(&shared);
    assert_eq!(fetched["samples"], 10_000);
    assert_eq!(fetched["correct"], reference["correct"]);

    // Everything is present and verified: nothing is downloaded again.
    let again = fetch(&url, &dir);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(requests.load(Ordering::SeqCst), 4);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("0 downloaded, 4 already present"),
        "{stdout}"
    );

    // One damaged file is downloaded again, the others skipped.
    let labels = dir.join("mnist").join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&labels, b"not the labels").unwrap();
    let repair = fetch(&url, &dir);
    assert!(
        repair.status.success(),
        "{}",
        String::from_utf8_lossy(&repair.stderr)
    );
    assert_eq!(requests.load(Ordering::SeqCst), 5);
    assert_eq!(
        std::fs::read(&labels).unwrap(),
        std::fs::read(shared.join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn assert_fails_and_leaves_nothing(mode: Serve, tag: &str) -> String {
    let shared = plastic_trainer::data::shared_data_dir().unwrap();
    let (url, _) = serve(shared.join("mnist"), shared.join("fashion-mnist"), mode);
    let dir = fresh_dir(tag);
    let out = fetch(&url, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("error: could not fetch") && stderr.contains(MNIST_FILES[0]),
        "the error names the file: {stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.join("mnist"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    stderr
}

#[test]
fn damaged_bytes_fail_clearly_and_leave_no_file() {
    if data_dir().is_none() {
        return;
    }
    assert_fails_and_leaves_nothing(Serve::FlipByte, "flip");
}

#[test]
fn wrong_contents_fail_naming_both_hashes_and_leave_no_file() {
    if data_dir().is_none() {
        return;
    }
    let stderr = assert_fails_and_leaves_nothing(Serve::Other, "other");
    assert!(stderr.contains("wrong checksum"), "{stderr}");
    // The expected MNIST digest and the Fashion-MNIST one the server sent.
    assert!(
        stderr.contains("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "{stderr}"
    );
}

/// CIFAR-10 comes as one archive: a server handing out another file gets a clear error
/// naming the archive's checksum, and nothing is left in the data folder.
#[test]
fn a_wrong_cifar10_archive_fails_clearly_and_leaves_nothing() {
    let served = fresh_dir("cifar-served");
    std::fs::write(served.join("cifar-10-binary.tar.gz"), b"not the archive").unwrap();
    let dir = fresh_dir("cifar");
    let out = plastic(&[
        "fetch",
        "--dataset",
        "cifar10",
        "--data-dir",
        dir.to_str().unwrap(),
        "--mirror",
        served.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cifar-10-binary.tar.gz")
            && stderr.contains("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.join("cifar10")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&served).unwrap();
}

/// The shared data's CIFAR-10 folder counts as fetched: nothing is downloaded.
#[test]
fn cifar10_already_there_is_not_downloaded_again() {
    let Some(data) = data_dir() else {
        return;
    };
    let out = plastic(&[
        "fetch",
        "--dataset",
        "cifar10",
        "--data-dir",
        data.to_str().unwrap(),
        "--mirror",
        "/nonexistent",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 unpacked"),
        "{stderr}"
    );
}

//! Layer unpacking: what a layer may do (modes, owners, xattrs, links, devices, whiteouts,
//! compression) and what a malicious layer may not (escape the layer directory, exhaust disk).
//! Runs as root (CI is root): ownership and device nodes are checked for real.

mod common;

use common::TempDir;
use dock::unpack::fsops::Dir;
use dock::unpack::{decompress, unpack, Limits, Options, UnpackError};
use std::io::Write;
use std::os::linux::fs::MetadataExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// A tar entry with a raw name (the tar crate's builder refuses `..`; attackers' tools don't).
struct E<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    data: &'a [u8],
    link: &'a [u8],
    mode: u32,
    size: Option<u64>,
}

fn e<'a>(name: &'a str, kind: tar::EntryType) -> E<'a> {
    E {
        name: name.as_bytes(),
        kind,
        data: b"",
        link: b"",
        mode: 0o644,
        size: None,
    }
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> E<'a> {
    E {
        data,
        ..e(name, tar::EntryType::Regular)
    }
}

fn link<'a>(name: &'a str, kind: tar::EntryType, target: &'a str) -> E<'a> {
    E {
        link: target.as_bytes(),
        ..e(name, kind)
    }
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for x in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(x.kind);
        h.set_mode(x.mode);
        h.set_mtime(1_600_000_000);
        h.set_size(x.size.unwrap_or(x.data.len() as u64));
        let b = h.as_mut_bytes();
        b[..x.name.len()].copy_from_slice(x.name);
        b[157..157 + x.link.len()].copy_from_slice(x.link);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(x.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// An outer directory holding the layer dir, to see that nothing lands beside it.
struct Arena {
    outer: TempDir,
}

impl Arena {
    fn new() -> Arena {
        let outer = TempDir::new("unpack");
        std::fs::create_dir(outer.path().join("layer")).unwrap();
        Arena { outer }
    }
    fn layer(&self) -> std::path::PathBuf {
        self.outer.path().join("layer")
    }
    fn unpack_opts(&self, tar: &[u8], opts: Options) -> Result<dock::unpack::Stats, UnpackError> {
        let root = Dir::open(&self.layer()).unwrap();
        unpack(decompress(tar).unwrap(), root.fd(), &opts, None)
    }
    fn unpack(&self, tar: &[u8]) -> Result<dock::unpack::Stats, UnpackError> {
        self.unpack_opts(tar, Options::default())
    }
    /// Only `layer` is in the outer directory.
    fn nothing_outside(&self) {
        let names: Vec<_> = std::fs::read_dir(self.outer.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            ["layer"],
            "something was written outside the layer dir"
        );
    }
}

fn refused(r: Result<dock::unpack::Stats, UnpackError>, want: &str) -> String {
    let msg = match r {
        Ok(_) => panic!("unpack should have failed ({want})"),
        Err(e) => e.to_string(),
    };
    assert!(msg.contains(want), "error {msg:?} should say {want:?}");
    msg
}

#[test]
fn dotdot_path_is_refused() {
    let a = Arena::new();
    let evil = format!("../../tmp/dock-evil-{}", std::process::id());
    let msg = refused(a.unpack(&tar_of(&[file(&evil, b"x")])), "`..`");
    assert!(msg.contains("dock-evil"), "{msg}");
    assert!(!Path::new(&format!("/tmp/dock-evil-{}", std::process::id())).exists());
    a.nothing_outside();
    let msg = refused(a.unpack(&tar_of(&[file("a/../../x", b"x")])), "`..`");
    assert!(msg.starts_with("layer entry"), "{msg}");
    a.nothing_outside();
}

#[test]
fn absolute_path_is_contained() {
    let a = Arena::new();
    let name = format!("/tmp/dock-abs-{}", std::process::id());
    a.unpack(&tar_of(&[file(&name, b"inside")])).unwrap();
    assert!(
        !Path::new(&name).exists(),
        "absolute entry written on the host"
    );
    let inside = a.layer().join(name.trim_start_matches('/'));
    assert_eq!(std::fs::read(inside).unwrap(), b"inside");
    a.nothing_outside();
}

#[test]
fn symlink_to_root_then_file_through_it_is_contained() {
    use tar::EntryType::*;
    let a = Arena::new();
    let pid = std::process::id();
    let through = format!("up/tmp/dock-sym-{pid}");
    let through2 = format!("rel/dock-rel-{pid}");
    a.unpack(&tar_of(&[
        link("up", Symlink, "/"),
        link("rel", Symlink, "../../../../.."),
        file(&through, b"one"),
        file(&through2, b"two"),
    ]))
    .unwrap();
    assert!(!Path::new(&format!("/tmp/dock-sym-{pid}")).exists());
    assert_eq!(
        std::fs::read(a.layer().join(format!("tmp/dock-sym-{pid}"))).unwrap(),
        b"one"
    );
    assert_eq!(
        std::fs::read(a.layer().join(format!("dock-rel-{pid}"))).unwrap(),
        b"two"
    );
    // The symlinks themselves are kept as they are (they only mean something in a container).
    assert_eq!(
        std::fs::read_link(a.layer().join("up")).unwrap(),
        Path::new("/")
    );
    a.nothing_outside();
}

#[test]
fn file_replacing_a_symlink_does_not_write_through_it() {
    use tar::EntryType::*;
    let a = Arena::new();
    let victim = a.outer.path().join("victim");
    std::fs::write(&victim, b"host data").unwrap();
    a.unpack(&tar_of(&[
        link("f", Symlink, "../victim"),
        file("f", b"replaced"),
    ]))
    .unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"host data");
    assert_eq!(std::fs::read(a.layer().join("f")).unwrap(), b"replaced");
    std::fs::remove_file(victim).unwrap();
}

#[test]
fn hardlink_to_host_file_is_refused() {
    use tar::EntryType::*;
    let a = Arena::new();
    let msg = refused(
        a.unpack(&tar_of(&[link("passwd", Link, "/etc/shadow")])),
        "not in this layer",
    );
    assert!(msg.contains("/etc/shadow"), "{msg}");
    // Through a symlink to /: resolved inside the layer, so still not found.
    refused(
        a.unpack(&tar_of(&[
            link("root", Symlink, "/"),
            link("p2", Link, "root/etc/passwd"),
        ])),
        "not in this layer",
    );
    // A hardlink to a symlink links the symlink, never its target.
    a.unpack(&tar_of(&[
        link("s", Symlink, "/etc/passwd"),
        link("h", Link, "s"),
    ]))
    .unwrap();
    let m = std::fs::symlink_metadata(a.layer().join("h")).unwrap();
    assert!(m.file_type().is_symlink());
    assert_eq!(std::fs::metadata("/etc/passwd").unwrap().st_nlink(), 1);
    a.nothing_outside();
}

#[test]
fn symlink_loop_is_refused() {
    use tar::EntryType::*;
    let a = Arena::new();
    let msg = refused(
        a.unpack(&tar_of(&[
            link("l1", Symlink, "l2"),
            link("l2", Symlink, "l1"),
            file("l1/x", b"x"),
        ])),
        "open parent",
    );
    assert!(
        msg.contains("symbolic links") || msg.contains("ELOOP"),
        "{msg}"
    );
    a.nothing_outside();
}

#[test]
fn whiteout_of_dotdot_is_refused() {
    let a = Arena::new();
    std::fs::write(a.outer.path().join("keep"), b"k").unwrap();
    refused(a.unpack(&tar_of(&[file("sub/.wh...", b"")])), "whiteout");
    refused(a.unpack(&tar_of(&[file(".wh..", b"")])), "whiteout");
    assert!(a.outer.path().join("keep").exists());
    std::fs::remove_file(a.outer.path().join("keep")).unwrap();
    a.nothing_outside();
}

#[test]
fn huge_and_bomb_entries_are_bounded() {
    let a = Arena::new();
    // A header claiming 100 GiB (as a huge sparse file would): refused before any write.
    let mut huge = file("huge", b"");
    huge.size = Some(100 << 30);
    let mut t = tar_of(&[huge]);
    t.truncate(512);
    refused(a.unpack(&t), "larger than the limit");
    assert!(!a.layer().join("huge").exists());

    // A gzip bomb: 64 MiB of zeros compress to ~64 KiB; the limit is 8 MiB.
    let zeros = vec![0u8; 64 << 20];
    let t = tar_of(&[file("bomb", &zeros)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 1 << 20);
    let opts = Options {
        limits: Limits {
            max_entry: 8 << 20,
            max_total: 16 << 20,
            max_entries: 1000,
        },
        ..Options::default()
    };
    let msg = refused(a.unpack_opts(&gz, opts), "larger than the limit of 8388608");
    assert!(msg.contains("single entry"), "{msg}");

    // Many entries, each under the limit, over the total.
    let five = vec![1u8; 5 << 20];
    let t = tar_of(&[
        file("a", &five),
        file("b", &five),
        file("c", &five),
        file("d", &five),
    ]);
    let msg = refused(a.unpack_opts(&t, opts), "larger than the limit");
    assert!(msg.contains("total"), "{msg}");
    a.nothing_outside();
}

#[test]
fn huge_pax_record_or_long_name_is_bounded() {
    // A PAX header / GNU long name of 16 MiB would be read into memory by the tar reader
    // before the entry it describes: refused once over META_LIMIT.
    for kind in [tar::EntryType::XHeader, tar::EntryType::GNULongName] {
        let a = Arena::new();
        let big = vec![b'a'; 16 << 20];
        let mut h = e("././@LongLink", kind);
        h.data = &big;
        let t = tar_of(&[h, file("x", b"x")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        let msg = refused(
            a.unpack(&gz.finish().unwrap()),
            "tar metadata before one entry",
        );
        assert!(msg.contains(&dock::unpack::META_LIMIT.to_string()), "{msg}");
        assert!(!a.layer().join("x").exists());
        a.nothing_outside();
    }
}

#[test]
fn device_nodes_skipped_when_not_root() {
    use tar::EntryType::*;
    let a = Arena::new();
    let mut dev = e("dev/null2", Char);
    dev.mode = 0o666;
    let t = tar_of(&[dev]);
    // Simulated non-root: skipped (as rootless docker does), not created.
    let stats = a
        .unpack_opts(
            &t,
            Options {
                privileged: false,
                ..Options::default()
            },
        )
        .unwrap();
    assert_eq!(stats.skipped_devices, 1);
    assert!(!a.layer().join("dev/null2").exists());
    a.nothing_outside();
}

#[test]
fn device_nodes_fifos_owners_modes_xattrs_as_root() {
    use tar::EntryType::*;
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CI is root)"
    );
    let a = Arena::new();
    // Build with the tar crate for PAX xattrs, ownership and device numbers.
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(Directory);
        h.set_mode(0o1777);
        h.set_size(0);
        h.set_mtime(1_500_000_000);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, "tmp", std::io::empty()).unwrap();
        // security.capability (cap_net_raw+ep, v2) and a user xattr, as PAX records.
        let cap: [u8; 20] = [
            0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0,
            0, 0, 0,
        ];
        b.append_pax_extensions([
            ("SCHILY.xattr.security.capability", &cap[..]),
            ("SCHILY.xattr.user.note", b"hi".as_slice()),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc".as_slice()),
        ])
        .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(Regular);
        h.set_mode(0o4755);
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_mtime(1_400_000_000);
        h.set_size(3);
        b.append_data(&mut h, "bin/suid", &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(Link);
        h.set_size(0);
        b.append_link(&mut h, "bin/hard", "bin/suid").unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(Char);
        h.set_mode(0o666);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        h.set_size(0);
        b.append_data(&mut h, "dev/null", std::io::empty()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(Fifo);
        h.set_mode(0o600);
        h.set_size(0);
        b.append_data(&mut h, "run/fifo", std::io::empty()).unwrap();
        b.finish().unwrap();
    }
    a.unpack(&out).unwrap();
    let l = a.layer();
    let m = std::fs::metadata(l.join("bin/suid")).unwrap();
    assert_eq!(m.st_mode() & 0o7777, 0o4755, "setuid kept after chown");
    assert_eq!((m.st_uid(), m.st_gid()), (1234, 5678));
    assert_eq!(m.st_mtime(), 1_400_000_000);
    assert_eq!(m.st_nlink(), 2, "hardlink");
    let t = std::fs::metadata(l.join("tmp")).unwrap();
    assert_eq!(t.st_mode() & 0o7777, 0o1777);
    assert_eq!(t.st_mtime(), 1_500_000_000);
    let d = std::fs::metadata(l.join("dev/null")).unwrap();
    assert!(d.file_type().is_char_device());
    assert_eq!(d.st_rdev(), libc::makedev(1, 3));
    assert!(std::fs::metadata(l.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let x = |name: &str| -> Option<Vec<u8>> {
        let p = std::ffi::CString::new(l.join("bin/suid").to_str().unwrap()).unwrap();
        let n = std::ffi::CString::new(name).unwrap();
        let mut buf = [0u8; 64];
        let r = unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                n.as_ptr(),
                buf.as_mut_ptr() as *mut _,
                buf.len(),
            )
        };
        (r >= 0).then(|| buf[..r as usize].to_vec())
    };
    assert_eq!(x("user.note").as_deref(), Some(&b"hi"[..]));
    assert_eq!(x("security.capability").map(|v| v.len()), Some(20));
    assert_eq!(
        x("trusted.overlay.redirect"),
        None,
        "overlay xattrs are dropped"
    );
    a.nothing_outside();
}

#[test]
fn whiteouts_and_opaque_dirs_become_overlay_markers() {
    let a = Arena::new();
    a.unpack(&tar_of(&[
        file("etc/.wh.gone", b""),
        file("var/.wh..wh..opq", b""),
    ]))
    .unwrap();
    assert!(dock::unpack::snapshot::is_whiteout(
        &a.layer().join("etc"),
        "gone"
    ));
    let p = std::ffi::CString::new(a.layer().join("var").to_str().unwrap()).unwrap();
    let mut buf = [0u8; 8];
    let n = unsafe {
        libc::getxattr(
            p.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr() as *mut _,
            8,
        )
    };
    assert_eq!(&buf[..n.max(0) as usize], b"y");
}

#[test]
fn gzip_zstd_and_plain_layers_and_diff_ids() {
    let t = tar_of(&[file("a/b", b"content"), file("c", b"more")]);
    let diff = dock::digest::Digest::sha256_of(&t).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&t).unwrap();
    let gz = gz.finish().unwrap();
    let zs = zstd::encode_all(&t[..], 3).unwrap();
    for (what, data) in [("plain", &t), ("gzip", &gz), ("zstd", &zs)] {
        let a = Arena::new();
        let root = Dir::open(&a.layer()).unwrap();
        let s = unpack(
            decompress(&data[..]).unwrap(),
            root.fd(),
            &Options::default(),
            Some(&diff),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(s.diff_id, diff);
        assert_eq!(std::fs::read(a.layer().join("a/b")).unwrap(), b"content");
    }
    let a = Arena::new();
    let root = Dir::open(&a.layer()).unwrap();
    let bad = format!("sha256:{}", "0".repeat(64));
    let err = unpack(&t[..], root.fd(), &Options::default(), Some(&bad)).unwrap_err();
    assert!(err.to_string().contains("diff-id mismatch"), "{err}");
}

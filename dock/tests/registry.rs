//! dock against a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1.

mod common;

use common::*;

#[test]
fn plain_pull_images_inspect_tag_rmi() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let img = busybox_image("amd64", false);
    upload(&reg.host, "test/busybox", "1.0", &img, None);
    let d = Dock::new();
    let name = format!("{}/test/busybox:1.0", reg.host);
    let out = d.run(&["pull", "--platform", "linux/amd64", &name]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pull failed: {stderr}");
    assert!(
        stderr.contains(&img.manifest.digest.to_string()),
        "{stderr}"
    );
    d.verify_store();
    for b in [&img.config, &img.layers[0], &img.manifest] {
        assert!(d
            .root
            .path()
            .join("blobs/sha256")
            .join(b.digest.hex())
            .is_file());
    }
    assert!(d.root.path().join("oci-layout").is_file());
    let index = d.index();
    let m = &index["manifests"][0];
    assert_eq!(m["digest"], img.manifest.digest.to_string());
    assert_eq!(
        m["annotations"]["org.opencontainers.image.ref.name"],
        format!("{}/test/busybox:1.0", reg.host)
    );

    let images = d.ok(&["images"]);
    let mut lines = images.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "DIGEST", "SIZE", "CREATED"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], format!("{}/test/busybox", reg.host));
    assert_eq!(row[1], "1.0");
    assert_eq!(row[2], format!("sha256:{}", img.manifest.digest.short()));
    assert!(row[4..].join(" ").ends_with("ago"), "{images}");

    let inspect = stored_config(&d, &name);
    assert_eq!(inspect["Id"], img.config.digest.to_string());
    assert_eq!(inspect["Architecture"], "amd64");

    // A second pull of the same image downloads nothing new.
    let before = d.snapshot();
    d.ok(&["pull", "-q", &name]);
    assert_eq!(before.0, d.snapshot().0);

    // Two names share blobs; removing one keeps them, removing both collects them.
    let other = format!("{}/test/copy:2", reg.host);
    d.ok(&["tag", &name, &other]);
    assert_eq!(d.index()["manifests"].as_array().unwrap().len(), 2);
    let out = d.ok(&["rmi", &name]);
    assert!(out.contains("Untagged"), "{out}");
    assert!(d
        .root
        .path()
        .join("blobs/sha256")
        .join(img.layers[0].digest.hex())
        .is_file());
    d.ok(&["rmi", &other]);
    assert!(
        d.snapshot().0.is_empty(),
        "blobs left after rmi: {:?}",
        d.snapshot().0
    );
    assert!(d.index()["manifests"].as_array().unwrap().is_empty());
}

#[test]
fn push_to_second_repository_then_pull_gives_identical_digests() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let img = make_image(
        "amd64",
        vec![
            busybox_layer("amd64"),
            small_layer("etc/extra", b"second layer"),
        ],
        true,
    );
    upload(&reg.host, "src/app", "v1", &img, None);
    let d = Dock::new();
    let src = format!("{}/src/app:v1", reg.host);
    let dst = format!("{}/dst/app:v2", reg.host);
    d.ok(&["pull", &src]);
    d.ok(&["tag", &src, &dst]);
    let out = d.run(&["push", &dst]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "push failed: {stderr}");
    assert!(
        stderr.contains("mounted from src/app"),
        "no cross-repo mount: {stderr}"
    );
    // Pushing again finds everything present.
    let again = d.run(&["push", &dst]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Chunked upload (PATCH with Content-Range, then PUT) without mounts, to a third repository.
    let chunked = format!("{}/chunked/app:v3", reg.host);
    d.ok(&["tag", &src, &chunked]);
    let out = d.run(&["push", "--no-mount", "--chunk-size", "65536", &chunked]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chunked push failed: {stderr}");
    assert!(!stderr.contains("mounted"), "{stderr}");
    let c = Dock::new();
    c.ok(&["pull", &chunked]);
    assert_eq!(
        c.index()["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );
    c.verify_store();

    let fresh = Dock::new();
    fresh.ok(&["pull", &dst]);
    let a = d.index()["manifests"][0]["digest"].clone();
    let b = fresh.index()["manifests"][0]["digest"].clone();
    assert_eq!(a, b);
    assert_eq!(b, img.manifest.digest.to_string());
    assert_eq!(d.snapshot().0, fresh.snapshot().0);
}

#[test]
fn index_with_two_platforms_and_docker_manifest_list() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let amd = busybox_image("amd64", false);
    let arm = busybox_image("arm64", false);
    let idx = upload_index(&reg.host, "multi/oci", "latest", &[&amd, &arm], false, None);
    let d = Dock::new();
    let name = format!("{}/multi/oci", reg.host);
    d.ok(&["pull", "--platform", "linux/arm64", &name]);
    let m = &d.index()["manifests"][0];
    assert_eq!(m["digest"], arm.manifest.digest.to_string());
    assert_eq!(m["platform"]["architecture"], "arm64");
    assert_eq!(
        m["annotations"]["io.github.hull.dock.repo-digest"],
        idx.digest.to_string()
    );
    assert_eq!(stored_config(&d, &name)["Architecture"], "arm64");
    // Default platform is the host's.
    let host = Dock::new();
    host.ok(&["pull", &name]);
    let want = if cfg!(target_arch = "aarch64") {
        &arm
    } else {
        &amd
    };
    assert_eq!(
        host.index()["manifests"][0]["digest"],
        want.manifest.digest.to_string()
    );
    // A platform the index lacks is a clear error.
    let err = d.fails(&["pull", "--platform", "linux/s390x", &name]);
    assert!(
        err.contains("no manifest for platform linux/s390x"),
        "{err}"
    );
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64"),
        "{err}"
    );

    // Docker schema 2 manifest list.
    let damd = busybox_image("amd64", true);
    let darm = busybox_image("arm64", true);
    upload_index(&reg.host, "multi/docker", "v1", &[&damd, &darm], true, None);
    let dl = Dock::new();
    let dname = format!("{}/multi/docker:v1", reg.host);
    dl.ok(&["pull", "--platform", "linux/arm64/v8", &dname]);
    assert_eq!(
        dl.index()["manifests"][0]["digest"],
        darm.manifest.digest.to_string()
    );
    assert_eq!(
        dl.index()["manifests"][0]["mediaType"],
        dock::manifest::DOCKER_MANIFEST
    );
    // By digest of the list.
    let by_digest = Dock::new();
    let list = reg_manifest_digest(&reg.host, "multi/docker", "v1");
    by_digest.ok(&[
        "pull",
        "--platform",
        "linux/amd64",
        &format!("{}/multi/docker@{list}", reg.host),
    ]);
    assert_eq!(
        by_digest.index()["manifests"][0]["digest"],
        damd.manifest.digest.to_string()
    );
}

fn reg_manifest_digest(host: &str, repo: &str, tag: &str) -> String {
    let client = dock::registry::Client::new(Default::default());
    let (_, _, d) = client.registry(host).get_manifest(repo, tag).unwrap();
    d.to_string()
}

#[test]
fn htpasswd_basic_auth_and_login() {
    let (user, password) = ("alice", "s3cret-pw");
    let reg = RegistryProc::start(RegistryAuth::Htpasswd {
        user: user.into(),
        password: password.into(),
    });
    let creds = dock::registry::auth::Credentials {
        username: user.into(),
        password: password.into(),
    };
    let img = busybox_image("amd64", false);
    upload(&reg.host, "private/app", "1", &img, Some(creds));
    let name = format!("{}/private/app:1", reg.host);

    let d = Dock::new();
    d.ok(&["images"]);
    let before = d.snapshot();
    let err = d.fails(&["pull", &name]);
    assert!(
        err.contains("unauthorized") && err.contains("dock login"),
        "{err}"
    );
    assert_eq!(before, d.snapshot());

    let err = d.fails(&["login", "-u", user, "-p", "wrong", &reg.host]);
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(!d.config.path().join("config.json").exists());

    d.ok(&["login", "-u", user, "-p", password, &reg.host]);
    let cfg = std::fs::read_to_string(d.config.path().join("config.json")).unwrap();
    assert!(cfg.contains(&reg.host), "{cfg}");
    d.ok(&["pull", &name]);
    d.verify_store();

    // Credentials from a docker config.json written by someone else (base64 auth).
    let other = Dock::new();
    other.write_docker_config(&reg.host, user, password);
    other.ok(&["pull", &name]);
    other.write_docker_config(&reg.host, user, "bad");
    let fresh = Dock::new();
    fresh.write_docker_config(&reg.host, user, "bad");
    let err = fresh.fails(&["pull", &name]);
    assert!(err.contains("unauthorized"), "{err}");
}

#[test]
fn concurrent_pulls_of_overlapping_images() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let shared = busybox_layer("amd64");
    let a = make_image("amd64", vec![shared.clone(), small_layer("a", b"a")], false);
    let b = make_image("amd64", vec![shared, small_layer("b", b"b")], false);
    upload(&reg.host, "c/a", "1", &a, None);
    upload(&reg.host, "c/b", "1", &b, None);
    let d = Dock::new();
    let names = [
        format!("{}/c/a:1", reg.host),
        format!("{}/c/b:1", reg.host),
        format!("{}/c/a:1", reg.host),
        format!("{}/c/b:1", reg.host),
    ];
    let children: Vec<_> = names
        .iter()
        .map(|n| {
            d.cmd(&["pull", n])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    d.verify_store();
    assert_eq!(d.index()["manifests"].as_array().unwrap().len(), 2);
    // 1 shared + 2 small layers + 2 configs + 2 manifests
    assert_eq!(d.snapshot().0.len(), 7);
    assert!(d.snapshot().2.is_empty());
}

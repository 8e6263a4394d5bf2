//! Finds or builds the C library and tells rustc how to link it.
//!
//! Where the library comes from, first match wins:
//!
//! 1. `DOCS_RS` set (docs.rs, or `DOCS_RS=1 cargo doc`): nowhere. Documentation
//!    needs no C library, so nothing is compiled and no C toolchain is needed.
//! 2. `MEMKIND_FIXED_LIB_DIR`: a folder holding a prebuilt `libmemkind_fixed.a`
//!    (the core and the private jemalloc in one archive, as `bazel build
//!    //core:static_archive` makes it) or else `libmemkind_fixed.so`.
//! 3. The core's C files are compiled here with the flags of `//core:memkind_fixed`,
//!    and linked with memkind-fixed's private jemalloc (symbol prefix `mkf_je_`, with
//!    the explicit-tcache fast path of `third_party/jemalloc/mkf_tcache_fast.c`):
//!    - in a published package, from what `bindings/rust/package.sh` put into it:
//!      the core in `csrc/`, and in `jemalloc/` jemalloc's release tarball, our
//!      fast path and `build_jemalloc.sh`, which builds jemalloc into `OUT_DIR`
//!      (once per target folder: `sh`, `make`, `bzip2` and the C compiler and
//!      archiver that the `cc` crate picks, so `CC` / `AR` and friends apply);
//!    - inside the repository, from `core/` and the jemalloc that `tools/setup.sh`
//!      built into `.deps/jemalloc` (`MEMKIND_FIXED_JEMALLOC_DIR` names another
//!      such folder); without that build, jemalloc is built into `OUT_DIR` from the
//!      tarball that `tools/setup.sh` fetched into `.deps/dist`, as in a package.
//!
//!    A package never reads files outside its own folder.
//!
//! Compiling the core here, rather than linking Bazel's archive, keeps `cargo test`
//! independent of Bazel (a nested `bazel build` would also wait on the server lock
//! of the `bazel test` that runs cargo). Bazel's own test of this crate uses way 2
//! with Bazel's archive, so both ways stay tested.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Native libraries that the core and jemalloc need, in link order.
const SYSTEM_LIBS: &[&str] = &["numa", "pthread", "dl", "m"];

/// What builds the private jemalloc: its release tarball, our fast path and the
/// script that puts them together (tools/build_jemalloc.sh).
struct JemallocSource {
    tarball: PathBuf,
    fast_path: PathBuf,
    script: PathBuf,
}

/// Where the C source comes from.
struct Tree {
    /// Holds src/ and include/.
    core: PathBuf,
    /// A folder holding lib/libmkf_jemalloc.a and include/, when one is built already.
    jemalloc_built: Option<PathBuf>,
    /// What builds jemalloc otherwise.
    jemalloc_source: Option<JemallocSource>,
}

fn main() {
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    println!("cargo:rerun-if-env-changed=MEMKIND_FIXED_LIB_DIR");
    println!("cargo:rerun-if-env-changed=MEMKIND_FIXED_JEMALLOC_DIR");
    if env::var_os("DOCS_RS").is_some() {
        return;
    }

    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let tree = find_tree(&manifest);
    if let Some(tree) = &tree {
        // Downstream build scripts get the public header as DEP_MEMKIND_FIXED_INCLUDE.
        println!("cargo:include={}", tree.core.join("include").display());
    }

    if let Some(dir) = env::var_os("MEMKIND_FIXED_LIB_DIR") {
        link_prebuilt(Path::new(&dir));
    } else if let Some(tree) = tree {
        let jemalloc = match (
            env::var_os("MEMKIND_FIXED_JEMALLOC_DIR"),
            tree.jemalloc_built,
        ) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(dir)) => dir,
            (None, None) => match &tree.jemalloc_source {
                Some(source) => build_jemalloc(source),
                None => panic!(
                    "memkind-fixed-sys: no jemalloc to link: neither .deps/jemalloc nor \
                     jemalloc's tarball in .deps/dist. Run tools/setup.sh once, or set \
                     MEMKIND_FIXED_LIB_DIR to a prebuilt library (docs/rust.md)."
                ),
            },
        };
        build_core(&tree.core, &jemalloc);
    } else {
        panic!(
            "memkind-fixed-sys: no C library to link and no core source to build. Set \
             MEMKIND_FIXED_LIB_DIR to a folder holding libmemkind_fixed.a (see docs/rust.md). \
             If this is `cargo package` (or `cargo publish`) run in the repository's rust/ \
             folder: run bindings/rust/package.sh instead (e.g. `bindings/rust/package.sh \
             package`), which copies the C sources and jemalloc's tarball into the package \
             first."
        );
    }
    for lib in SYSTEM_LIBS {
        println!("cargo:rustc-link-lib={lib}");
    }
}

/// The C source of a package (csrc/ and jemalloc/ beside Cargo.toml), else that of
/// the repository around the crate (rust/memkind-fixed-sys).
fn find_tree(manifest: &Path) -> Option<Tree> {
    let csrc = manifest.join("csrc");
    if csrc.join("src").is_dir() {
        let dir = manifest.join("jemalloc");
        let tarball = std::fs::read_dir(&dir)
            .ok()
            .into_iter()
            .flatten()
            .map(|e| e.expect("a jemalloc/ entry").path())
            .find(|p| p.to_string_lossy().ends_with(".tar.bz2"));
        return Some(Tree {
            core: csrc,
            jemalloc_built: None,
            jemalloc_source: tarball.map(|tarball| JemallocSource {
                tarball,
                fast_path: dir.join("mkf_tcache_fast.c"),
                script: dir.join("build_jemalloc.sh"),
            }),
        });
    }
    let top = manifest.join("../..");
    if !top.join("core/src").is_dir() {
        return None;
    }
    let built = top.join(".deps/jemalloc");
    let tarball = top.join(".deps/dist/jemalloc_5.3.0.orig.tar.bz2");
    Some(Tree {
        core: top.join("core"),
        jemalloc_built: built
            .join("lib/libmkf_jemalloc.a")
            .is_file()
            .then_some(built),
        jemalloc_source: tarball.is_file().then(|| JemallocSource {
            tarball,
            fast_path: top.join("third_party/jemalloc/mkf_tcache_fast.c"),
            script: top.join("tools/build_jemalloc.sh"),
        }),
    })
}

/// Builds the private jemalloc into OUT_DIR/jemalloc with build_jemalloc.sh, unless
/// the same inputs built it there already; returns that folder.
fn build_jemalloc(source: &JemallocSource) -> PathBuf {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let dir = out.join("jemalloc");
    for input in [&source.tarball, &source.fast_path, &source.script] {
        println!("cargo:rerun-if-changed={}", input.display());
    }

    // The compiler and archiver of the cc crate (CC, CFLAGS, AR, TARGET_CC, ...),
    // with the optimisation of a release build whatever the profile: a -O0 jemalloc
    // would slow every allocation. Debug info as the profile asks.
    let build = cc::Build::new();
    let compiler = build.get_compiler();
    let debug = env::var("DEBUG").is_ok_and(|d| d != "false" && d != "0");
    let (cflags, cc, ar): (String, OsString, OsString) = if default_c_toolchain() {
        // Nothing asked for: the flags and tools of tools/setup.sh ("-O2 -g -fPIC",
        // cc, ar) and of the Python build, so that build_jemalloc.sh's per-machine
        // cache (~/.cache/memkind-fixed/jemalloc) serves this build from theirs, and
        // theirs from this one; "-O2 -fPIC" in release builds.
        let flags = if debug { "-O2 -g -fPIC" } else { "-O2 -fPIC" };
        (flags.into(), "cc".into(), "ar".into())
    } else {
        let mut cflags: Vec<String> = compiler
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .filter(|a| !a.starts_with("-O") && !a.starts_with("-g"))
            .collect();
        cflags.push("-O2".into());
        cflags.push("-fPIC".into());
        if debug {
            cflags.push("-g".into());
        }
        (
            cflags.join(" "),
            compiler.path().into(),
            build.get_archiver().get_program().into(),
        )
    };

    // Inputs that decide the build; an equal stamp means nothing to do.
    let mut key = Vec::new();
    for input in [&source.tarball, &source.fast_path, &source.script] {
        key.extend(std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display())));
    }
    key.extend(cflags.as_bytes());
    key.extend(cc.as_encoded_bytes());
    key.extend(ar.as_encoded_bytes());
    let stamp = format!("{} {}\n", posix_cksum(&key), key.len());
    let stamp_file = dir.join(".stamp");
    if dir.join("lib/libmkf_jemalloc.a").is_file()
        && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp)
    {
        return dir;
    }

    let _ = std::fs::remove_file(&stamp_file);
    let status = Command::new("sh")
        .arg(&source.script)
        .arg(&source.tarball)
        .arg(&source.fast_path)
        .arg(&dir)
        .env("CC", &cc)
        .env("AR", &ar)
        .env("MKF_JEMALLOC_CFLAGS", &cflags)
        // Its work folder too goes under OUT_DIR, not /tmp.
        .env("TMPDIR", &out)
        .status()
        .unwrap_or_else(|e| panic!("memkind-fixed-sys: cannot run sh: {e}"));
    if !status.success() {
        panic!(
            "memkind-fixed-sys: building jemalloc failed ({status}): {} needs sh, make, \
             bzip2, tar and a C compiler ({})",
            source.script.display(),
            cc.to_string_lossy()
        );
    }
    std::fs::write(&stamp_file, stamp).expect("OUT_DIR is writable");
    dir
}

/// Whether the build uses the default C toolchain: a native build with no compiler,
/// archiver or C flags named in the environment (the variables the cc crate reads).
fn default_c_toolchain() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    if target != env::var("HOST").unwrap_or_default() || !target.starts_with("x86_64-unknown-linux")
    {
        return false;
    }
    let under = target.replace('-', "_");
    ["CC", "CFLAGS", "AR", "CRATE_CC_NO_DEFAULTS"]
        .iter()
        .flat_map(|v| {
            [
                v.to_string(),
                format!("HOST_{v}"),
                format!("TARGET_{v}"),
                format!("{v}_{target}"),
                format!("{v}_{under}"),
            ]
        })
        .all(|v| {
            println!("cargo:rerun-if-env-changed={v}");
            env::var_os(&v).is_none()
        })
}

/// Way 2: a library built elsewhere (Bazel, a package).
fn link_prebuilt(dir: &Path) {
    let dir = dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("MEMKIND_FIXED_LIB_DIR={}: {e}", dir.display()));
    println!("cargo:rustc-link-search=native={}", dir.display());
    let archive = dir.join("libmemkind_fixed.a");
    if archive.is_file() {
        println!("cargo:rerun-if-changed={}", archive.display());
        // Whole archive: the core runs its set-up from a constructor, as Bazel's
        // alwayslink = True does for the C tests.
        println!("cargo:rustc-link-lib=static:+whole-archive=memkind_fixed");
    } else if dir.join("libmemkind_fixed.so").is_file() {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("libmemkind_fixed.so").display()
        );
        println!("cargo:rustc-link-lib=dylib=memkind_fixed");
    } else {
        panic!(
            "MEMKIND_FIXED_LIB_DIR={}: holds neither libmemkind_fixed.a nor \
             libmemkind_fixed.so",
            dir.display()
        );
    }
}

/// Way 3: compile the core (`core` holds src/ and include/) and link it with the
/// private jemalloc in `jemalloc` (lib/libmkf_jemalloc.a, include/).
fn build_core(core: &Path, jemalloc: &Path) {
    check_bindings_fresh(&core.join("include/memkind_fixed.h"));
    let src = core.join("src");
    // src/ and its folders of one concern each (src/shared/: shared kinds).
    let mut files: Vec<PathBuf> = [src.clone(), src.join("shared")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).expect("the core's sources are readable"))
        .map(|e| e.expect("a src/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "h"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", src.join("shared").display());
    println!("cargo:rerun-if-changed={}", core.join("include").display());
    for p in &files {
        println!("cargo:rerun-if-changed={}", p.display());
    }

    let lib = jemalloc.join("lib/libmkf_jemalloc.a");
    if !lib.is_file() {
        panic!(
            "memkind-fixed-sys: {} is missing: MEMKIND_FIXED_JEMALLOC_DIR must name a \
             folder that tools/build_jemalloc.sh built (docs/rust.md).",
            lib.display()
        );
    }
    println!("cargo:rerun-if-changed={}", lib.display());

    // The flags of //core:memkind_fixed (core/BUILD).
    let mut build = cc::Build::new();
    build
        .files(
            files
                .iter()
                .filter(|p| p.extension().is_some_and(|x| x == "c")),
        )
        .include(&src)
        .include(core.join("include"))
        .include(jemalloc.join("include"))
        .flag("-std=gnu11")
        .flag("-fvisibility=hidden")
        .define("_GNU_SOURCE", None)
        .pic(true)
        .warnings(false)
        // TLS descriptors and no frame pointer, as //core:memkind_fixed: the
        // allocation fast path then builds no stack frame (docs/design.md). Only
        // where the compiler takes them (gcc on x86-64).
        .flag_if_supported("-mtls-dialect=gnu2")
        .flag_if_supported("-fomit-frame-pointer")
        // The core runs its set-up from a constructor; Bazel links it with
        // alwayslink = True, this is the same.
        .link_lib_modifier("+whole-archive");
    build.compile("memkind_fixed_core");
    println!(
        "cargo:rustc-link-search=native={}",
        jemalloc.join("lib").display()
    );
    println!("cargo:rustc-link-lib=static=mkf_jemalloc");
}

/// Panic when the header that the core is compiled with is not the one that
/// src/bindings.rs was generated from: struct layouts could differ, and the C code
/// would write past Rust's buffers. (Bazel's //bindings/rust:bindings_fresh_test
/// checks the same with SHA-256; std has no SHA-256, so this uses POSIX cksum.)
fn check_bindings_fresh(header: &Path) {
    println!("cargo:rerun-if-changed={}", header.display());
    let bytes = std::fs::read(header).expect("the public header is readable");
    let have = format!("{} {}", posix_cksum(&bytes), bytes.len());
    let bindings = include_str!("src/bindings.rs");
    let want = bindings
        .lines()
        .find_map(|l| l.strip_prefix("// Source cksum: "))
        .expect("src/bindings.rs records the header's cksum");
    if want.trim() != have {
        panic!(
            "memkind-fixed-sys: src/bindings.rs is stale: {} has cksum {have}, the \
             bindings were made from {want}. Run bindings/rust/regenerate.sh.",
            header.display()
        );
    }
}

/// The CRC of POSIX `cksum`: CRC-32 (polynomial 0x04C11DB7, MSB first) over the
/// data and then its length, least significant byte first.
fn posix_cksum(data: &[u8]) -> u32 {
    fn feed(crc: u32, byte: u8) -> u32 {
        let mut crc = crc ^ (u32::from(byte) << 24);
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
        crc
    }
    let mut crc = data.iter().fold(0, |crc, &b| feed(crc, b));
    let mut len = data.len();
    while len != 0 {
        crc = feed(crc, len as u8);
        len >>= 8;
    }
    !crc
}

//! Finds or builds the C library and tells rustc how to link it.
//!
//! Where the library comes from, first match wins:
//!
//! 1. `MEMKIND_FIXED_LIB_DIR`: a folder holding a prebuilt `libmemkind_fixed.a`
//!    (the core and the private jemalloc in one archive, as `bazel build
//!    //core:static_archive` makes it) or else `libmemkind_fixed.so`.
//! 2. The core's C files are compiled here with the flags of `//core:memkind_fixed`:
//!    from `core/` inside the repository, or from `csrc/` in a published package.
//!    jemalloc comes from
//!    - the private jemalloc that `tools/setup.sh` built into `.deps/jemalloc`
//!      (`MEMKIND_FIXED_JEMALLOC_DIR` overrides that folder), or
//!    - with the `bundled` feature, the tikv-jemalloc-sys crate, which builds
//!      jemalloc from the source it ships, with the symbol prefix `_rjem_`.
//!
//! Compiling the core here, rather than linking Bazel's archive, keeps `cargo test`
//! independent of Bazel (a nested `bazel build` would also wait on the server lock
//! of the `bazel test` that runs cargo). Bazel's own test of this crate uses way 1
//! with Bazel's archive, so both ways stay tested.

use std::env;
use std::path::{Path, PathBuf};

/// Native libraries that the core and jemalloc need, in link order.
const SYSTEM_LIBS: &[&str] = &["numa", "pthread", "dl", "m"];

/// jemalloc's entry points that the core declares itself (core/src/internal.h)
/// under the prefix of tools/setup.sh's build; renamed for the bundled jemalloc.
/// Not listed: mkf_je_tc_malloc / mkf_je_tc_free, the explicit-tcache fast path
/// that tools/setup.sh adds to its build (third_party/jemalloc/mkf_tcache_fast.c).
/// The bundled jemalloc lacks them, so the core is compiled with
/// MKF_NO_TC_FASTPATH there and calls mallocx()/dallocx() instead.
const JE_ENTRY_POINTS: &[&str] = &[
    "mallocx",
    "rallocx",
    "xallocx",
    "dallocx",
    "sallocx",
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "free",
];

/// Where jemalloc comes from.
enum Jemalloc {
    /// tools/setup.sh's build: an include folder and libmkf_jemalloc.a.
    Private(PathBuf),
    /// tikv-jemalloc-sys's build: its include folder; it links itself.
    Bundled(PathBuf),
}

fn main() {
    println!("cargo:rerun-if-env-changed=MEMKIND_FIXED_LIB_DIR");
    println!("cargo:rerun-if-env-changed=MEMKIND_FIXED_JEMALLOC_DIR");

    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let in_repo = manifest.join("../../core");
    let packaged = manifest.join("csrc");
    let core = [in_repo, packaged]
        .into_iter()
        .find(|c| c.join("src").is_dir());
    if let Some(core) = &core {
        // Downstream build scripts get the public header as DEP_MEMKIND_FIXED_INCLUDE.
        println!("cargo:include={}", core.join("include").display());
    }

    if let Some(dir) = env::var_os("MEMKIND_FIXED_LIB_DIR") {
        link_prebuilt(Path::new(&dir));
    } else if let Some(core) = core {
        let jemalloc = if env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
            let root = env::var_os("DEP_JEMALLOC_ROOT").expect("set by tikv-jemalloc-sys");
            Jemalloc::Bundled(PathBuf::from(root).join("include"))
        } else {
            let dir = match env::var_os("MEMKIND_FIXED_JEMALLOC_DIR") {
                Some(dir) => PathBuf::from(dir),
                None => manifest.join("../../.deps/jemalloc"),
            };
            Jemalloc::Private(dir)
        };
        build_core(&core, &jemalloc);
    } else {
        panic!(
            "memkind-fixed-sys: no C library to link and no core source to build. Set \
             MEMKIND_FIXED_LIB_DIR to a folder holding libmemkind_fixed.a (see docs/rust.md)."
        );
    }
    for lib in SYSTEM_LIBS {
        println!("cargo:rustc-link-lib={lib}");
    }
}

/// Way 1: a library built elsewhere (Bazel, a package).
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

/// Way 2: compile the core (`core` holds src/ and include/), with `jemalloc`.
fn build_core(core: &Path, jemalloc: &Jemalloc) {
    check_bindings_fresh(&core.join("include/memkind_fixed.h"));
    let src = core.join("src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("the core's src/ is readable")
        .map(|e| e.expect("a src/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "h"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", core.join("include").display());
    for p in &files {
        println!("cargo:rerun-if-changed={}", p.display());
    }

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
        .flag("-std=gnu11")
        .flag("-fvisibility=hidden")
        .define("_GNU_SOURCE", None)
        .pic(true)
        .warnings(false)
        // The core runs its set-up from a constructor; Bazel links it with
        // alwayslink = True, this is the same.
        .link_lib_modifier("+whole-archive");

    match jemalloc {
        Jemalloc::Private(dir) => {
            let lib = dir.join("lib/libmkf_jemalloc.a");
            if !lib.is_file() {
                panic!(
                    "memkind-fixed-sys: {} is missing. Run tools/setup.sh once (it builds \
                     the private jemalloc), build with the `bundled` feature, or set \
                     MEMKIND_FIXED_LIB_DIR to a prebuilt library (docs/rust.md).",
                    lib.display()
                );
            }
            println!("cargo:rerun-if-changed={}", lib.display());
            build.include(dir.join("include"));
            build.compile("memkind_fixed_core");
            println!(
                "cargo:rustc-link-search=native={}",
                dir.join("lib").display()
            );
            println!("cargo:rustc-link-lib=static=mkf_jemalloc");
        }
        Jemalloc::Bundled(include) => {
            // The core calls jemalloc as mkf_je_*; this jemalloc's prefix is _rjem_.
            // Its jemalloc.h maps the je_* names that jemalloc_glue.c uses itself.
            for name in JE_ENTRY_POINTS {
                build.define(
                    &format!("mkf_je_{name}"),
                    Some(format!("_rjem_{name}").as_str()),
                );
            }
            // No explicit-tcache fast path in this jemalloc (see JE_ENTRY_POINTS).
            build.define("MKF_NO_TC_FASTPATH", None);
            build.include(include);
            build.compile("memkind_fixed_core");
        }
    }
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

package org.memkind.fixed;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * Loads the JNI library, libmemkind_fixed_jni.so, once: MemkindFixedJNI's static
 * initialiser (bindings/swig/memkind_fixed.i) calls {@link #load} before the first
 * native call. The first of these that applies is used:
 * <ol>
 * <li>the file named by the system property {@value #LIBRARY_PROPERTY}, for those who
 *     install the library themselves;</li>
 * <li>the library the jar carries for this platform, the resource
 *     {@code org/memkind/fixed/native/<os>-<arch>/libmemkind_fixed_jni.so} (the Maven
 *     jar made by java/package.sh has linux-x86_64): it is copied to a new file that
 *     only this user can read, in {@value #TMPDIR_PROPERTY} or else java.io.tmpdir,
 *     loaded, and deleted at once (the loaded copy stays mapped), so nothing is left
 *     behind even when the JVM is killed;</li>
 * <li>{@code libmemkind_fixed_jni.so} from java.library.path, for a jar without the
 *     library (Bazel's //java:jar) or on a platform the jar has no library for.</li>
 * </ol>
 * A fresh file per load also lets two class loaders each load their own copy, which
 * the JVM refuses for one path.
 */
final class NativeLibrary {
    /** A system property naming the JNI library file to load instead of the jar's. */
    static final String LIBRARY_PROPERTY = "org.memkind.fixed.library";
    /** A system property naming the directory for the jar's library to be copied to
     *  (java.io.tmpdir if unset), for a temporary directory mounted noexec. */
    static final String TMPDIR_PROPERTY = "org.memkind.fixed.tmpdir";
    /** The library's file name, also System.mapLibraryName("memkind_fixed_jni"). */
    static final String FILE_NAME = "libmemkind_fixed_jni.so";

    /** Where the library came from (property, jar, java.library.path); null before. */
    private static String source;

    private NativeLibrary() {}

    /** Load the library unless it is loaded. */
    static synchronized void load() {
        if (source != null) {
            return;
        }
        String file = System.getProperty(LIBRARY_PROPERTY);
        if (file != null) {
            System.load(Paths.get(file).toAbsolutePath().toString());
            source = LIBRARY_PROPERTY;
            return;
        }
        URL bundled = NativeLibrary.class.getResource(resourceName());
        if (bundled != null) {
            loadCopy(bundled);
            source = "jar";
            return;
        }
        try {
            System.loadLibrary("memkind_fixed_jni");
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError why = new UnsatisfiedLinkError("memkind-fixed: this jar has no"
                    + " JNI library for " + platform() + " and none was found in"
                    + " java.library.path; name one with -D" + LIBRARY_PROPERTY + "=<file> ("
                    + e.getMessage() + ")");
            why.initCause(e);
            throw why;
        }
        source = "java.library.path";
    }

    /** Where the library was loaded from: {@value #LIBRARY_PROPERTY}, "jar" or
     *  "java.library.path"; null before {@link #load}. */
    static synchronized String source() {
        return source;
    }

    /** This platform as the jar names it: linux-x86_64, linux-aarch64, ... */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            os = "linux";
        }
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (arch.equals("amd64")) {
            arch = "x86_64"; // what uname -m says, and so java/package.sh
        }
        return os.replace(' ', '_') + "-" + arch;
    }

    /** The library's resource, relative to this class's package. */
    static String resourceName() {
        return "native/" + platform() + "/" + FILE_NAME;
    }

    private static void loadCopy(URL bundled) {
        String dirName = System.getProperty(TMPDIR_PROPERTY, System.getProperty("java.io.tmpdir"));
        Path copy = null;
        try {
            // A new name, created exclusively, readable and writable by this user only.
            copy = Files.createTempFile(Paths.get(dirName), "libmemkind_fixed_jni", ".so");
            try (InputStream in = bundled.openStream();
                    OutputStream out = Files.newOutputStream(copy, StandardOpenOption.WRITE,
                            StandardOpenOption.TRUNCATE_EXISTING)) {
                in.transferTo(out);
            }
            System.load(copy.toAbsolutePath().toString());
        } catch (IOException | UnsatisfiedLinkError e) {
            UnsatisfiedLinkError why = new UnsatisfiedLinkError("memkind-fixed: cannot load the"
                    + " JNI library of the jar from a copy in " + dirName + " (" + e + "); a directory mounted noexec needs -D" + TMPDIR_PROPERTY + "=<dir>, or"
                    + " install the library and name it with -D" + LIBRARY_PROPERTY + "=<file>");
            why.initCause(e);
            throw why;
        } finally {
            if (copy != null) {
                try {
                    Files.deleteIfExists(copy);
                } catch (IOException e) {
                    copy.toFile().deleteOnExit();
                }
            }
        }
    }
}

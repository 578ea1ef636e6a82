package dev.stealtime.tck.runner.result;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;

/**
 * The TCK artifacts a run used, with the SHA-256 of each jar: what a certification names. Found
 * through the {@code META-INF/maven/dev.stealtime/ARTIFACT/pom.properties} that every TCK jar
 * carries; in a development build (classes directories, no jars) the entry says so instead of a hash.
 */
public final class TckJars {

    /** The suite jars first: they are what a certification run certifies against. */
    public static final List<String> ARTIFACTS = List.of("tck-x86-msr", "tck-arm64-pvtime", "tck-api", "tck-runner");

    /**
     * @param artifact artifact id
     * @param location jar path, or a description when there is no jar
     * @param sha256   hex digest of the jar, or empty when there is no jar
     */
    public record Entry(String artifact, String location, String sha256) {
    }

    private TckJars() {
    }

    /** The build's version, filtered by Maven (where the runner's root package has always had it). */
    private static final String VERSION_RESOURCE = "/dev/stealtime/tck/runner/tck-version.properties";

    /** The TCK's version: the jar manifest's, else the build's ({@code tck-version.properties}, filtered by Maven). */
    public static String version() {
        String v = TckJars.class.getPackage().getImplementationVersion();
        if (v != null) {
            return v;
        }
        try (InputStream in = TckJars.class.getResourceAsStream(VERSION_RESOURCE)) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    public static List<Entry> find(ClassLoader loader) {
        return find(loader, ARTIFACTS);
    }

    /** The jars of the suites that ran, then tck-api and tck-runner. */
    public static List<String> artifactsFor(List<String> suiteArtifacts) {
        List<String> out = new ArrayList<>(suiteArtifacts);
        out.add("tck-api");
        out.add("tck-runner");
        return out;
    }

    public static List<Entry> find(ClassLoader loader, List<String> artifacts) {
        List<Entry> out = new ArrayList<>();
        for (String a : artifacts) {
            out.add(find(loader, a));
        }
        return out;
    }

    static Entry find(ClassLoader loader, String artifact) {
        URL url = loader.getResource("META-INF/maven/dev.stealtime/" + artifact + "/pom.properties");
        if (url == null) {
            return new Entry(artifact, "not a jar on the classpath (development build: classes directory)", "");
        }
        try {
            if ("jar".equals(url.getProtocol())) {
                URL jarUrl = ((JarURLConnection) url.openConnection()).getJarFileURL();
                Path jar = Path.of(jarUrl.toURI());
                return new Entry(artifact, jar.toAbsolutePath().toString(), sha256(jar));
            }
            return new Entry(artifact, "classes directory " + url, "");
        } catch (IOException | URISyntaxException | RuntimeException e) {
            return new Entry(artifact, "unreadable (" + e.getMessage() + ")", "");
        }
    }

    public static String sha256(Path file) throws IOException {
        try (DigestInputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(in.getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

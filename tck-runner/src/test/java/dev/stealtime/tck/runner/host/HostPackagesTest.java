package dev.stealtime.tck.runner.host;

import org.testng.annotations.AfterClass;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The one host-package list: parsed strictly, checked by what each package really brings (a static
 * link by the cross compiler, not a file name), answered from a cache, and the same list that
 * {@code .ci/run} installs and the KVM developers' guide ({@code docs/kvm-developers.md}) shows.
 */
public class HostPackagesTest {

    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

    @Test
    public void theShippedListNamesEveryKvmArm64PieceIncludingTheCrossCLibrary() {
        assertThat(HostPackages.withPath("/nonexistent", tempDir()).packages("kvm-arm64"))
                .containsExactly("qemu-system-arm", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross",
                        "linux-libc-dev-arm64-cross", "cpio", "apt", "dpkg");
    }

    @Test
    public void withNothingOnThePathEveryPackageOfTheGroupIsMissingOnceAndTheInstallLineIsPastable() {
        HostPackages.Missing m = HostPackages.withPath(tempDir().toString(), tempDir()).missing("kvm-arm64");
        assertThat(m.packages()).doesNotHaveDuplicates()
                .contains("qemu-system-arm", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "linux-libc-dev-arm64-cross", "cpio");
        assertThat(m.installCommand()).isEqualTo("apt-get install --no-install-recommends " + String.join(" ", m.packages()));
        assertThat(m.reason()).startsWith("missing host packages: qemu-system-arm ").contains("(install with: apt-get install");
    }

    @Test
    public void aCompilerThatCannotLinkStaticallyMeansTheCLibraryPackageIsMissingAndTheAnswerIsCached() throws Exception {
        Path bin = tempDir();
        Path cache = tempDir();
        Path calls = bin.resolve("calls");
        // compiles (-c) but cannot link: the kernel headers are there, the static C library is not
        fakeCompiler(bin, "aarch64-linux-gnu-gcc", "echo x >> " + calls + "; case \" $* \" in *' -c '*) exit 0;; *) echo 'fatal error: bits/libc-header-start.h' >&2; exit 1;; esac");
        for (String c : List.of("qemu-system-aarch64", "cpio", "apt-get", "dpkg-deb")) {
            fakeCompiler(bin, c, "exit 0");
        }
        HostPackages hp = HostPackages.withPath(bin.toString(), cache);
        assertThat(hp.missing("kvm-arm64").packages()).as("the compiler exists, its static link fails")
                .containsExactly("libc6-dev-arm64-cross");
        assertThat(Files.readAllLines(calls)).as("one static link and one header compile").hasSize(2);
        assertThat(hp.missing("kvm-arm64").packages()).containsExactly("libc6-dev-arm64-cross");
        assertThat(Files.readAllLines(calls)).as("the second check is answered from the cache").hasSize(2);
    }

    @Test
    public void aCompilerThatBuildsBothChecksLacksNothing() throws Exception {
        Path bin = tempDir();
        fakeCompiler(bin, "aarch64-linux-gnu-gcc", "exit 0");
        for (String c : List.of("qemu-system-aarch64", "cpio", "apt-get", "dpkg-deb")) {
            fakeCompiler(bin, c, "exit 0");
        }
        assertThat(HostPackages.withPath(bin.toString(), tempDir()).missing("kvm-arm64").none()).isTrue();
    }

    @Test
    public void aMalformedLineIsRejectedWithItsNumber() {
        assertThatThrownBy(() -> HostPackages.parse("# c\nkvm-arm64 cpio\n"))
                .hasMessageContaining("line 2").hasMessageContaining("kvm-arm64 cpio");
        assertThatThrownBy(() -> HostPackages.parse("kvm-arm64 cpio guess:cpio\n")).hasMessageContaining("line 1");
    }

    @Test
    public void ciInstallsFromTheListAndTheGuideShowsExactlyTheList() throws Exception {
        String ci = Files.readString(REPO.resolve(".ci/run"));
        assertThat(ci).as(".ci/run reads the list instead of naming packages itself")
                .contains("tck-runner/src/main/resources/dev/stealtime/tck/runner/" + HostPackages.RESOURCE)
                .doesNotContain("qemu-system-arm gcc-aarch64-linux-gnu");
        String whole = Files.readString(REPO.resolve("docs/kvm-developers.md"));
        int from = whole.indexOf("\n### Host packages\n");
        assertThat(from).as("docs/kvm-developers.md has a 'Host packages' section").isPositive();
        int to = whole.indexOf("\n#", from + 5);
        String section = whole.substring(from, to < 0 ? whole.length() : to);
        Matcher row = Pattern.compile("(?m)^\\| `([a-z0-9-]+)` \\| `([a-z0-9.+-]+)` \\|").matcher(section);
        StringBuilder shown = new StringBuilder();
        while (row.find()) {
            shown.append(row.group(1)).append(' ').append(row.group(2)).append('\n');
        }
        StringBuilder listed = new StringBuilder();
        for (HostPackages.Entry e : HostPackages.shipped()) {
            listed.append(e.group()).append(' ').append(e.pkg()).append('\n');
        }
        assertThat(shown.toString()).as("the 'Host packages' table of docs/kvm-developers.md, row by row (group, package)").isEqualTo(listed.toString());
    }

    private static void fakeCompiler(Path dir, String name, String body) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwx------"));
    }

    private static final List<Path> DIRS = new ArrayList<>();

    @AfterClass(alwaysRun = true)
    public void removeTemporaryDirectories() {
        DIRS.forEach(PrivateFiles::deleteTree);
    }

    private static Path tempDir() {
        try {
            Path d = PrivateFiles.tempDir("tck-host-packages-test-");
            DIRS.add(d);
            return d;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}

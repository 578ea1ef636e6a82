package dev.stealtime.tck.runner.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.stealtime.tck.runner.HostRequirement;
import dev.stealtime.tck.runner.TckCli;
import dev.stealtime.tck.runner.host.Leftovers;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/ci-matrix.md: its GitHub Actions workflow and its GitLab CI file define the same cells and
 * the same commands, and those commands work: the cells are run here one after another (each
 * {@code run:} step in bash, with the job's environment, {@code ./tck} being this build's CLI), then
 * the merge job on their directories, and the matrix holds every cell labelled with its parameters.
 */
public class CiMatrixRecipeTest {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Path DOC = Path.of("..", "docs", "ci-matrix.md");

    record Recipe(JsonNode github, JsonNode gitlab) {
    }

    static Recipe recipe() throws IOException {
        String doc = Files.readString(DOC);
        Matcher m = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL).matcher(doc);
        JsonNode github = null;
        JsonNode gitlab = null;
        while (m.find()) {
            String block = m.group(1);
            if (block.startsWith("# .github/workflows/")) {
                github = YAML.readTree(block);
            } else if (block.startsWith("# .gitlab-ci.yml")) {
                gitlab = YAML.readTree(block);
            }
        }
        assertThat(github).as("%s has a ```yaml block starting '# .github/workflows/'", DOC).isNotNull();
        assertThat(gitlab).as("%s has a ```yaml block starting '# .gitlab-ci.yml'", DOC).isNotNull();
        return new Recipe(github, gitlab);
    }

    /** GitHub's matrix: the product of the axes, then each include merged into the combinations it matches (or added). */
    static List<Map<String, String>> githubCells(JsonNode matrix) {
        List<Map<String, String>> combos = new ArrayList<>();
        combos.add(new LinkedHashMap<>());
        Set<String> axes = new LinkedHashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = matrix.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> axis = it.next();
            if (axis.getKey().equals("include") || axis.getKey().equals("exclude")) {
                continue;
            }
            axes.add(axis.getKey());
            List<Map<String, String>> next = new ArrayList<>();
            for (Map<String, String> c : combos) {
                for (JsonNode v : axis.getValue()) {
                    Map<String, String> n = new LinkedHashMap<>(c);
                    n.put(axis.getKey(), v.asText());
                    next.add(n);
                }
            }
            combos = next;
        }
        for (JsonNode inc : matrix.path("include")) {
            boolean matched = false;
            for (Map<String, String> c : combos) {
                boolean matches = true;
                for (Iterator<Map.Entry<String, JsonNode>> it = inc.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (axes.contains(e.getKey()) && !e.getValue().asText().equals(c.get(e.getKey()))) {
                        matches = false;
                    }
                }
                if (matches) {
                    matched = true;
                    inc.fields().forEachRemaining(e -> c.putIfAbsent(e.getKey(), e.getValue().asText()));
                }
            }
            if (!matched) {
                Map<String, String> n = new LinkedHashMap<>();
                inc.fields().forEachRemaining(e -> n.put(e.getKey(), e.getValue().asText()));
                combos.add(n);
            }
        }
        return combos;
    }

    /** GitLab's parallel:matrix: each entry the product of its list-valued variables. */
    static List<Map<String, String>> gitlabCells(JsonNode matrix) {
        List<Map<String, String>> all = new ArrayList<>();
        for (JsonNode entry : matrix) {
            List<Map<String, String>> combos = new ArrayList<>();
            combos.add(new LinkedHashMap<>());
            for (Iterator<Map.Entry<String, JsonNode>> it = entry.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> var = it.next();
                List<String> values = new ArrayList<>();
                if (var.getValue().isArray()) {
                    var.getValue().forEach(v -> values.add(v.asText()));
                } else {
                    values.add(var.getValue().asText());
                }
                List<Map<String, String>> next = new ArrayList<>();
                for (Map<String, String> c : combos) {
                    for (String v : values) {
                        Map<String, String> n = new LinkedHashMap<>(c);
                        n.put(var.getKey(), v);
                        next.add(n);
                    }
                }
                combos = next;
            }
            all.addAll(combos);
        }
        return all;
    }

    /** A GitHub job's environment for one cell: {@code ${{ matrix.x }}} substituted. */
    static Map<String, String> githubEnv(JsonNode job, Map<String, String> cell) {
        Map<String, String> env = new LinkedHashMap<>();
        job.path("env").fields().forEachRemaining(e -> env.put(e.getKey(), substitute(e.getValue().asText(), cell)));
        return env;
    }

    static String substitute(String text, Map<String, String> matrix) {
        Matcher m = Pattern.compile("\\$\\{\\{\\s*matrix\\.([A-Za-z0-9_-]+)\\s*}}").matcher(text);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            assertThat(matrix).as("matrix variable %s in %s", m.group(1), text).containsKey(m.group(1));
            m.appendReplacement(sb, Matcher.quoteReplacement(matrix.get(m.group(1))));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** The run: scripts of a GitHub job, in order. */
    static List<String> githubRuns(JsonNode job) {
        List<String> runs = new ArrayList<>();
        job.path("steps").forEach(s -> {
            if (s.has("run")) {
                runs.add(s.path("run").asText().strip());
            }
        });
        return runs;
    }

    static List<String> gitlabScripts(JsonNode job) {
        List<String> scripts = new ArrayList<>();
        for (String key : List.of("before_script", "script")) {
            job.path(key).forEach(s -> scripts.add(s.asText().strip()));
        }
        return scripts;
    }

    /** The same command on both CI systems: GitHub's runner needs sudo for apt-get, GitLab's container does not. */
    static List<String> normalised(List<String> scripts) {
        return scripts.stream().map(s -> s.replace("sudo ", "")).toList();
    }

    @Test
    public void bothRecipesDefineTheSameKernelByArchitectureCellsAndCommandsAndAFinalMergeJob() throws IOException {
        Recipe r = recipe();
        JsonNode gh = r.github().path("jobs");
        JsonNode gl = r.gitlab();
        List<Map<String, String>> ghCells = githubCells(gh.path("cell").path("strategy").path("matrix")).stream()
                .map(c -> githubEnv(gh.path("cell"), c)).toList();
        List<Map<String, String>> glCells = gitlabCells(gl.path("cell").path("parallel").path("matrix"));
        assertThat(ghCells).as("GitHub cells (job env)").hasSize(4);
        assertThat(Set.copyOf(glCells)).as("GitLab cells equal GitHub's").isEqualTo(Set.copyOf(ghCells));
        Set<String> archs = new LinkedHashSet<>();
        Set<String> kernels = new LinkedHashSet<>();
        ghCells.forEach(c -> {
            archs.add(c.get("ARCH"));
            kernels.add(c.get("KERNEL"));
        });
        assertThat(archs).containsExactly("x86", "arm64");
        assertThat(kernels).as("two kernels per architecture").hasSize(2);
        assertThat(ghCells).as("every combination of kernel and architecture").hasSize(archs.size() * kernels.size());
        assertThat(gh.path("cell").path("strategy").path("fail-fast").asBoolean(true)).as("fail-fast: false").isFalse();

        assertThat(normalised(gitlabScripts(gl.path("cell")))).isEqualTo(normalised(githubRuns(gh.path("cell"))));
        assertThat(normalised(gitlabScripts(gl.path("merge")))).isEqualTo(normalised(githubRuns(gh.path("merge"))));
        assertThat(normalised(gitlabScripts(gl.path("kernels")))).isEqualTo(normalised(githubRuns(gh.path("kernels"))));
        assertThat(githubRuns(gh.path("merge"))).anyMatch(s -> s.startsWith("./tck merge "));

        assertThat(gh.path("merge").path("needs").asText()).isEqualTo("cell");
        assertThat(gh.path("merge").path("if").asText()).contains("always()");
        assertThat(gh.path("cell").path("steps").findValues("if").stream().map(JsonNode::asText)).as("cells upload their runs always")
                .contains("always()");
        assertThat(gl.path("merge").path("when").asText()).isEqualTo("always");
        assertThat(gl.path("cell").path("artifacts").path("when").asText()).isEqualTo("always");
        List<String> stages = new ArrayList<>();
        gl.path("stages").forEach(s -> stages.add(s.asText()));
        assertThat(stages.indexOf(gl.path("merge").path("stage").asText())).isGreaterThan(stages.indexOf(gl.path("cell").path("stage").asText()));
    }

    @Test
    public void theCellsRunHereOneAfterAnotherAndMerge() throws Exception {
        Recipe r = recipe();
        JsonNode jobs = r.github().path("jobs");
        List<Map<String, String>> cells = githubCells(jobs.path("cell").path("strategy").path("matrix"));
        Path ws = Files.createTempDirectory("tck-ci-recipe", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            Path bin = shims(ws);
            // the provider's own kernel first: once it ran, its cached Debian image can stand in as the candidate
            List<Map<String, String>> ordered = new ArrayList<>(cells.stream().filter(c -> c.get("kernel").equals("debian")).toList());
            ordered.addAll(cells.stream().filter(c -> !c.get("kernel").equals("debian")).toList());
            Map<String, String> unavailable = new LinkedHashMap<>();
            List<String> ran = new ArrayList<>();
            Map<String, Path> candidates = new LinkedHashMap<>();
            boolean kernelsJobRan = false;
            for (Map<String, String> cell : ordered) {
                Map<String, String> env = githubEnv(jobs.path("cell"), cell);
                String name = env.get("ARCH") + "-" + env.get("KERNEL");
                if (!env.get("KERNEL").equals("debian") && !kernelsJobRan) {
                    // the kernels job: the images of this machine where the user's kernel build would put its own
                    for (String arch : List.of("x86", "arm64")) {
                        Optional<Path> img = candidateKernel(arch);
                        if (img.isPresent()) {
                            Path to = Files.createDirectories(ws.resolve("kernels").resolve(arch)).resolve("candidate");
                            Files.copy(img.get(), to, StandardCopyOption.REPLACE_EXISTING);
                            candidates.put(arch, img.get());
                            Optional<Path> modules = candidateModules(arch);
                            if (modules.isPresent()) {
                                InterruptedRunsTest.copyTree(modules.get(), ws.resolve("kernels").resolve(arch).resolve("candidate.modules"));
                            }
                        }
                    }
                    if (candidates.size() < 2) {
                        HostRequirement.unavailable("test", "the CI recipe's candidate-kernel cells", "no candidate kernel image for every architecture here (found " + candidates.keySet()
                                + "; set TCK_CI_CANDIDATE_X86 / TCK_CI_CANDIDATE_ARM64, or let the providers fetch Debian's)");
                    }
                    for (String run : githubRuns(jobs.path("kernels"))) {
                        assertThat(bash(ws, bin, Map.of(), run).code()).as("the kernels job's step: %s", run).isZero();
                    }
                    kernelsJobRan = true;
                }
                // a fresh runner: no cells/ of another job
                Leftovers.deleteQuietly(ws.resolve("cells"));
                boolean available = true;
                for (String run : githubRuns(jobs.path("cell"))) {
                    Shell s = bash(ws, bin, env, run);
                    Matcher why = Pattern.compile("provider '[^']+' is UNAVAILABLE here: (.*)").matcher(s.output());
                    if (s.code() == TckCli.NOT_TESTED && why.find()) {
                        unavailable.put(env.get("PROVIDER"), name + ": " + why.group(1));
                        available = false;
                        break;
                    }
                    // the job's verdict (0 CONFORMS, 1 DOES NOT CONFORM) is the cell's business; anything else is a broken recipe
                    assertThat(s.code()).as("cell %s, step:%n%s%noutput:%n%s", env, run, s.output()).isIn(0, 1);
                    if (s.code() == 1) {
                        System.out.printf("CiMatrixRecipeTest: cell %s DOES NOT CONFORM (its job would fail): %s%n", name,
                                s.output().lines().filter(l -> l.contains(" FAIL ")).toList());
                    }
                }
                if (!available) {
                    continue;
                }
                // upload-artifact (path cells/) then download-artifact (merge-multiple into cells/): kept aside meanwhile
                Path upload = ws.resolve("artifacts").resolve(substitute("cell-${{ matrix.arch }}-${{ matrix.kernel }}", cell));
                Files.createDirectories(upload.getParent());
                Files.move(ws.resolve("cells"), upload);
                ran.add(name);
            }
            assertThat(ran).as("cells that could run here (unavailable: %s)", unavailable).isNotEmpty();
            Path merged = Files.createDirectories(ws.resolve("cells"));
            try (Stream<Path> s = Files.list(ws.resolve("artifacts"))) {
                for (Path artifact : s.toList()) {
                    try (Stream<Path> inner = Files.list(artifact)) {
                        for (Path d : inner.toList()) {
                            Files.move(d, merged.resolve(d.getFileName()));
                        }
                    }
                }
            }
            for (String run : githubRuns(jobs.path("merge"))) {
                Shell s = bash(ws, bin, Map.of(), run);
                assertThat(s.code()).as("merge step %s:%n%s", run, s.output()).isZero();
            }
            JsonNode matrix = new ObjectMapper().readTree(ws.resolve("matrix/matrix.json").toFile());
            Map<String, String> kernels = new LinkedHashMap<>();
            matrix.path("runs").forEach(run -> kernels.put(run.path("name").asText(), run.path("provider").asText() + " "
                    + run.path("architecture").asText() + " " + run.path("kernel").asText() + " " + run.path("kernelHash").asText()));
            assertThat(kernels.keySet()).containsExactlyInAnyOrderElementsOf(ran);
            for (String arch : candidates.keySet()) {
                if (ran.contains(arch + "-debian") && ran.contains(arch + "-candidate")) {
                    assertThat(kernels.get(arch + "-candidate")).as("the candidate cell names its kernel image's hash")
                            .endsWith(sha256(candidates.get(arch)));
                }
            }
            assertThat(ws.resolve("matrix/matrix.html")).isRegularFile();
            assertThat(ws.resolve("matrix/report/index.html")).isRegularFile();
            for (Map.Entry<String, String> u : unavailable.entrySet()) {
                // a skip naming the provider's reason (the other cells ran and merged); under .ci/run a failure
                HostRequirement.unavailable(u.getKey(), "the CI recipe's " + u.getKey() + " cells", u.getValue());
            }
        } finally {
            Leftovers.deleteQuietly(ws);
        }
    }

    /** A candidate kernel for an architecture: TCK_CI_CANDIDATE_X86 / _ARM64, else the Debian image its provider fetched. */
    static Optional<Path> candidateKernel(String arch) {
        String explicit = System.getenv("TCK_CI_CANDIDATE_" + arch.toUpperCase());
        if (explicit != null && !explicit.isBlank()) {
            return Optional.of(Path.of(explicit)).filter(Files::isRegularFile);
        }
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "stealtime-tck");
        Path dir = cache.resolve(arch.equals("x86") ? "kvm-x86-emulated" : "kvm-arm64");
        return Stream.of("kernel", "Image").map(dir::resolve).filter(Files::isRegularFile).findFirst();
    }

    /** x86: the KVM modules beside the candidate (TCK_CI_CANDIDATE_X86_MODULES, else the Debian ones its provider fetched). */
    static Optional<Path> candidateModules(String arch) {
        if (!arch.equals("x86")) {
            return Optional.empty();
        }
        String explicit = System.getenv("TCK_CI_CANDIDATE_X86_MODULES");
        if (explicit != null && !explicit.isBlank()) {
            return Optional.of(Path.of(explicit)).filter(Files::isDirectory);
        }
        Path p = Path.of(System.getProperty("user.home"), ".cache", "stealtime-tck", "kvm-x86-emulated", "kvm-modules");
        return Files.isDirectory(p) ? Optional.of(p) : Optional.empty();
    }

    record Shell(int code, String output) {
    }

    static Shell bash(Path ws, Path bin, Map<String, String> env, String script) throws IOException, InterruptedException {
        Path log = Files.createTempFile(ws, "step", ".log");
        ProcessBuilder pb = new ProcessBuilder("bash", "-e", "-c", script).directory(ws.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(20, TimeUnit.MINUTES)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("step did not finish within 20 minutes: " + script);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        Files.delete(log);
        return new Shell(p.exitValue(), out);
    }

    /**
     * The workspace's {@code ./tck} (this build's CLI on this test's class path), and {@code sudo} and
     * {@code apt-get} that change nothing: sudo runs its command, apt-get install simulates, apt-get update does nothing.
     */
    static Path shims(Path ws) throws IOException {
        Path bin = Files.createDirectories(ws.resolve(".bin"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        script(ws.resolve("tck"), "#!/usr/bin/env bash\nexec '" + java + "' -cp '" + System.getProperty("java.class.path")
                + "' " + TckCli.class.getName() + " \"$@\"\n");
        script(bin.resolve("sudo"), "#!/usr/bin/env bash\nexec \"$@\"\n");
        String apt = Stream.of(System.getenv("PATH").split(":")).map(d -> Path.of(d, "apt-get")).filter(Files::isExecutable)
                .findFirst().map(Path::toString).orElse("/usr/bin/apt-get");
        script(bin.resolve("apt-get"), "#!/usr/bin/env bash\n"
                + "case \"$1\" in\n"
                + "  update) echo 'apt-get update: not run by the test (the package lists of this machine are left alone)';;\n"
                + "  install) shift; exec '" + apt + "' install --simulate \"$@\" >/dev/null;;\n"
                + "  *) echo \"apt-get $1: not expected in the recipe\" >&2; exit 1;;\n"
                + "esac\n");
        return bin;
    }

    private static void script(Path p, String text) throws IOException {
        Files.writeString(p, text, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    }

    static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package blazemq;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One of Kafka's command-line tools, run as bin/kafka-run-class.sh runs it: a `java` child with
 * the tool's main class on this test's classpath (kafka-tools and its dependencies).
 */
final class Tool {
    private static final long TIMEOUT_MS = 60_000;

    /** What the tool did: its exit code and everything it wrote. */
    record Result(int exitCode, String stdout, String stderr) {
        List<String> lines() {
            List<String> lines = new ArrayList<>();
            for (String line : stdout.split("\n")) {
                if (!line.isBlank()) {
                    lines.add(line);
                }
            }
            return lines;
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + stdout + "\n--- stderr\n" + stderr;
        }
    }

    private Tool() {
    }

    static Result run(String mainClass, String... args) throws IOException, InterruptedException {
        return runWithInput(null, mainClass, args);
    }

    static Result runWithInput(String stdin, String mainClass, String... args) throws IOException, InterruptedException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java,
                // C1 only and a small serial heap: a tool runs for a second or two on a small machine.
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m", "-Xshare:auto",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        Process process = new ProcessBuilder(cmd).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread outThread = copy(process.getInputStream(), out);
        Thread errThread = copy(process.getErrorStream(), err);
        try (OutputStream in = process.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!process.waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor();
            outThread.join();
            errThread.join();
            throw new AssertionError(mainClass + " did not finish in " + TIMEOUT_MS + " ms:\n"
                    + new Result(-1, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)));
        }
        outThread.join();
        errThread.join();
        return new Result(process.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static Thread copy(InputStream from, ByteArrayOutputStream to) {
        Thread t = new Thread(() -> {
            try {
                from.transferTo(to);
            } catch (IOException e) {
                // The child is gone; what it wrote so far is kept.
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }
}

package blazemq;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real `blazemq` process on a free port with a fresh data directory, found as the Rust and
 * Python end-to-end tests find it: `$BLAZEMQ_BIN`, else `$CARGO_TARGET_DIR/debug/blazemq`, else
 * `<repo>/target/debug/blazemq`. With `BLAZEMQ_BOOTSTRAP=host:port` nothing is started and the
 * tests run against the broker already listening there (e.g. Apache Kafka started by
 * scripts/kafka-reference.sh).
 */
final class Broker implements AutoCloseable {
    private static final String READY_LINE = "Broker ready";
    private static final long READY_TIMEOUT_MS = 10_000;
    private static final long STOP_TIMEOUT_MS = 10_000;

    private final String bootstrap;
    private final Path logDir;
    private final List<String> args;
    private final ArrayDeque<String> output = new ArrayDeque<>();
    // The running process; restart() replaces it.
    private Process process;

    private Broker(String bootstrap, Process process, Path logDir, List<String> args) {
        this.bootstrap = bootstrap;
        this.process = process;
        this.logDir = logDir;
        this.args = args;
    }

    /** The address of an already running broker, or null when the tests start their own. */
    static String external() {
        String value = System.getenv("BLAZEMQ_BOOTSTRAP");
        return value == null || value.isBlank() ? null : value.trim();
    }

    static Broker start(String... args) throws IOException, InterruptedException {
        String external = external();
        if (external != null) {
            return new Broker(external, null, null, List.of());
        }
        Path binary = binary();
        IOException last = null;
        // A free port may be taken between choosing it and the broker binding it: try again.
        for (int attempt = 0; attempt < 3; attempt++) {
            Path dir = Files.createTempDirectory("blazemq-jvm-");
            int port = freePort();
            List<String> cmd = command(binary, port, dir, List.of(args));
            Process process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            Broker broker = new Broker("127.0.0.1:" + port, process, dir, List.of(args));
            if (broker.awaitReady()) {
                return broker;
            }
            String logs = broker.logs();
            broker.close();
            last = new IOException("broker did not start:\n" + logs);
        }
        throw last;
    }

    String bootstrap() {
        return bootstrap;
    }

    private static List<String> command(Path binary, int port, Path dir, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(binary.toString(), "--port",
                Integer.toString(port), "--log-dir", dir.toString()));
        cmd.addAll(args);
        return cmd;
    }

    /**
     * Stops the broker (SIGTERM, as an operator would) and starts it again on the same port and
     * data directory, so what it had written must come back from disk. Clients keep the same
     * bootstrap address and reconnect by themselves. Only for a broker these tests started.
     */
    void restart() throws IOException, InterruptedException {
        if (process == null) {
            throw new IllegalStateException("an external broker (BLAZEMQ_BOOTSTRAP) cannot be restarted");
        }
        stop();
        int port = Integer.parseInt(bootstrap.substring(bootstrap.lastIndexOf(':') + 1));
        List<String> cmd = command(binary(), port, logDir, args);
        // The port was ours a moment ago; another process taking it in between is unlikely, but
        // its listener may take a moment to be released, so a failed start is tried again.
        String logs = "";
        for (int attempt = 0; attempt < 5; attempt++) {
            synchronized (output) {
                output.clear();
            }
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (awaitReady()) {
                return;
            }
            logs = logs();
            stop();
            Thread.sleep(200);
        }
        throw new IOException("broker did not restart:\n" + logs);
    }

    private void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    private static Path binary() {
        String bin = System.getenv("BLAZEMQ_BIN");
        if (bin != null && !bin.isBlank()) {
            return Paths.get(bin);
        }
        Path repo = Paths.get(System.getProperty("blazemq.repo", "../..")).toAbsolutePath().normalize();
        String targetEnv = System.getenv("CARGO_TARGET_DIR");
        Path target = targetEnv == null || targetEnv.isBlank() ? repo.resolve("target") : repo.resolve(targetEnv);
        Path path = target.resolve("debug").resolve("blazemq");
        if (!Files.isExecutable(path)) {
            throw new IllegalStateException(path + " is missing: run `cargo build -p blazemq` first (scripts/test.sh does)");
        }
        return path;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private boolean awaitReady() throws InterruptedException {
        CountDownLatch ready = new CountDownLatch(1);
        Thread drain = new Thread(() -> drain(process.getInputStream(), ready), "blazemq-output");
        drain.setDaemon(true);
        drain.start();
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (ready.await(50, TimeUnit.MILLISECONDS)) {
                return true;
            }
            if (!process.isAlive()) {
                return false;
            }
        }
        return false;
    }

    // Reads the broker's output until it closes, so the broker never blocks on a full pipe.
    private void drain(InputStream stream, CountDownLatch ready) {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                synchronized (output) {
                    output.addLast(line);
                    if (output.size() > 200) {
                        output.removeFirst();
                    }
                }
                if (line.contains(READY_LINE)) {
                    ready.countDown();
                }
            }
        } catch (IOException e) {
            // The broker is gone; its exit is noticed by whoever waits for it.
        }
    }

    String logs() {
        synchronized (output) {
            return String.join("\n", output);
        }
    }

    /** SIGTERM, then SIGKILL if the broker has not exited in time; the data directory goes too. */
    @Override
    public void close() throws IOException, InterruptedException {
        if (process == null) {
            return;
        }
        stop();
        try (Stream<Path> paths = Files.walk(logDir)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}

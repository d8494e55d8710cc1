package blazemq;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceConnector;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/**
 * A source connector in the manner of Kafka's FileStreamSourceConnector (connect-file, which is
 * not published for the Kafka version these tests use): one task turns each line of a file into a
 * record, and its source offset is the number of lines written so far, so a task started again
 * (on another worker, after a restart) goes on from the offset Connect committed for it.
 */
public class LinesSourceConnector extends SourceConnector {
    static final String FILE = "file";
    static final String TOPIC = "topic";
    static final String LINE = "line";

    private static final ConfigDef CONFIG = new ConfigDef()
            .define(FILE, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE, ConfigDef.Importance.HIGH,
                    "The file whose lines become records; it is only ever replaced whole.")
            .define(TOPIC, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE, ConfigDef.Importance.HIGH,
                    "The topic the records go to.");

    private Map<String, String> props;

    @Override
    public void start(Map<String, String> props) {
        this.props = Map.copyOf(props);
    }

    @Override
    public Class<? extends Task> taskClass() {
        return LinesTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        // One file, one reader: a second task would emit every line twice.
        return List.of(props);
    }

    @Override
    public void stop() {
    }

    @Override
    public ConfigDef config() {
        return CONFIG;
    }

    @Override
    public String version() {
        return "1";
    }

    public static class LinesTask extends SourceTask {
        private Path file;
        private String topic;
        private Map<String, String> partition;
        // Lines of the file already turned into records.
        private long emitted;

        @Override
        public String version() {
            return "1";
        }

        @Override
        public void start(Map<String, String> props) {
            file = Path.of(props.get(FILE));
            topic = props.get(TOPIC);
            partition = Map.of(FILE, file.toString());
            Map<String, Object> offset = context.offsetStorageReader().offset(partition);
            // The worker's internal JSON converter reads the number back as a Long.
            emitted = offset == null ? 0 : ((Number) offset.get(LINE)).longValue();
        }

        @Override
        public List<SourceRecord> poll() throws InterruptedException {
            List<String> lines;
            try {
                lines = Files.readAllLines(file);
            } catch (IOException e) {
                throw new ConnectException("cannot read " + file, e);
            }
            if (lines.size() <= emitted) {
                // Nothing new: wait a little rather than spin (poll may block briefly).
                Thread.sleep(50);
                return null;
            }
            List<SourceRecord> records = new ArrayList<>();
            for (long i = emitted; i < lines.size(); i++) {
                records.add(new SourceRecord(partition, Map.of(LINE, i + 1), topic, null,
                        null, null, Schema.STRING_SCHEMA, lines.get((int) i)));
            }
            emitted = lines.size();
            return records;
        }

        @Override
        public void stop() {
        }
    }
}

// A load generator that costs the pipeline little CPU: Kafka's own Java producer sending
// card-transactions at a fixed rate, each value Avro-encoded here with a handful of byte writes.
// Positions (with the card, merchant, channel, device and IP address the simulator gives) come from
// a pool file written by the project's simulator (bench/loadgen.py), so the traffic looks like the
// product's; timestamps and transaction ids are fresh for every record.
//
// Run with the Kafka client jars on the class path (bench/loadgen.py does):
//   java -cp <jars> LoadGenerator.java --bootstrap H:P --topic T --pool FILE --rate N --seconds S --run-id R
//   java -cp <jars> LoadGenerator.java --encode TIMESTAMP TRANSACTION_ID LAT LNG AMOUNT [CONTEXT...]   (hex, for the test)
// It prints one JSON line with what it sent and the CPU it used.

import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class LoadGenerator {
    record Position(byte[] key, double lat, double lng, double amount, byte[] context) {}

    // The field order of transactions/schemas/card-transactions.avsc: timestamp (long),
    // transaction_id (string), lat, lng, amount (double), then the optional context fields
    // (encodeContext). tests/test_bench.py compares these bytes with the project's codec.
    static final int CONTEXT_FIELDS = 8;

    static byte[] encode(long timestamp, String transactionId, double lat, double lng, double amount, byte[] context) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64);
        writeLong(out, timestamp);
        byte[] id = transactionId.getBytes(StandardCharsets.UTF_8);
        writeLong(out, id.length);
        out.writeBytes(id);
        ByteBuffer doubles = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        doubles.putDouble(lat).putDouble(lng).putDouble(amount);
        out.writeBytes(doubles.array());
        out.writeBytes(context);
        return out.toByteArray();
    }

    // The context fields in schema order, each a ["null", "string"] union: branch 0 (null) for an
    // empty text, else branch 1 and the string. A position's are the same in every record: encoded once.
    static byte[] encodeContext(List<String> values) {
        if (values.size() != CONTEXT_FIELDS) throw new IllegalArgumentException("expected " + CONTEXT_FIELDS + " context fields, got " + values);
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        for (String value : values) {
            if (value.isEmpty()) {
                writeLong(out, 0);
                continue;
            }
            byte[] text = value.getBytes(StandardCharsets.UTF_8);
            writeLong(out, 1);
            writeLong(out, text.length);
            out.writeBytes(text);
        }
        return out.toByteArray();
    }

    static void writeLong(ByteArrayOutputStream out, long value) {
        long zigzag = (value << 1) ^ (value >> 63);
        while ((zigzag & ~0x7FL) != 0) {
            out.write((int) ((zigzag & 0x7F) | 0x80));
            zigzag >>>= 7;
        }
        out.write((int) zigzag);
    }

    static List<Position> readPool(Path file) throws Exception {
        List<Position> pool = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            String[] f = line.split(",", -1);  // -1: trailing empty (null) fields too
            pool.add(new Position(f[0].getBytes(StandardCharsets.UTF_8), Double.parseDouble(f[1]),
                    Double.parseDouble(f[2]), Double.parseDouble(f[3]), encodeContext(List.of(f).subList(4, f.length))));
        }
        if (pool.isEmpty()) throw new IllegalArgumentException(file + " has no positions");
        return pool;
    }

    static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + args[i]);
            options.put(args[i].substring(2), args[i + 1]);
        }
        for (String name : List.of("bootstrap", "topic", "pool", "rate", "seconds", "run-id")) {
            if (!options.containsKey(name)) throw new IllegalArgumentException("missing --" + name);
        }
        return options;
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--encode")) {
            System.out.println(HexFormat.of().formatHex(encode(Long.parseLong(args[1]), args[2],
                    Double.parseDouble(args[3]), Double.parseDouble(args[4]), Double.parseDouble(args[5]),
                    encodeContext(List.of(args).subList(6, args.length)))));
            return;
        }
        Map<String, String> options = options(args);
        List<Position> pool = readPool(Path.of(options.get("pool")));
        double rate = Double.parseDouble(options.get("rate"));
        long total = (long) (rate * Double.parseDouble(options.get("seconds")));
        String runId = options.get("run-id");

        Properties config = new Properties();
        config.put("bootstrap.servers", options.get("bootstrap"));
        config.put("key.serializer", ByteArraySerializer.class.getName());
        config.put("value.serializer", ByteArraySerializer.class.getName());
        config.put("acks", "all");
        config.put("linger.ms", "5");
        config.put("batch.size", String.valueOf(256 * 1024));
        AtomicLong acked = new AtomicLong(), failed = new AtomicLong();

        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long startCpu = os.getProcessCpuTime();  // the sending's CPU, not the JVM's start-up and compile
        String topic = options.get("topic");
        org.apache.kafka.clients.producer.Callback callback = (metadata, error) -> {
            if (error == null) acked.incrementAndGet(); else failed.incrementAndGet();
        };
        long start = System.nanoTime();
        long nextReport = start + 1_000_000_000L;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config)) {
            long sent = 0;
            while (sent < total) {
                // Everything due by now, then a millisecond's sleep: a thousand wake-ups a second
                // at any rate, instead of one per record.
                long due = Math.min(total, (long) ((System.nanoTime() - start) * rate / 1e9) + 1);
                for (; sent < due; sent++) {
                    Position p = pool.get((int) (sent % pool.size()));
                    byte[] value = encode(System.currentTimeMillis(), runId + "-" + sent, p.lat(), p.lng(), p.amount(), p.context());
                    producer.send(new ProducerRecord<>(topic, p.key(), value), callback);
                }
                if (System.nanoTime() >= nextReport) {  // read by bench/throughput.py's sustained run
                    System.err.printf("loadgen: %d of %d sent, %d acknowledged%n", sent, total, acked.get());
                    nextReport += 1_000_000_000L;
                }
                if (sent < total) Thread.sleep(1);
            }
            producer.flush();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long cpuNanos = os.getProcessCpuTime() - startCpu;
        System.out.printf("{\"sent\": %d, \"acknowledged\": %d, \"failed\": %d, \"seconds\": %.3f, \"cpu_seconds\": %.3f}%n",
                total, acked.get(), failed.get(), seconds, cpuNanos / 1e9);
    }
}

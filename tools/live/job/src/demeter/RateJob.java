//! RateJob: the live test job. [Source: gen -> parse] --HASH--> [work -> sink].
//
// gen behaves like a Kafka topic with K splits (--partitions): records "arrive" at --rate rec/s
// (or the number in --rate-file, re-read every 500 ms) and wait as a backlog, exposed as the
// standard source metric pendingRecords. Split state (offset, arrived, lastUpdate) is
// checkpointed, so the backlog built up while the job is down is replayed after a restart.
// work busy-spins --cost-us microseconds per record (or the number in --cost-file) on a keyed
// counter, which gives a CPU bottleneck and backpressure on purpose; with --cost-mode sleep it
// waits instead (an I/O-bound operator: capacity grows with parallelism, not with cores). Compiled with javac only,
// against <flink-home>/lib/* (tools/live/build_job.sh).
package demeter;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

public class RateJob {

    /** Reads a number from a file; `fallback` if the file is missing or unreadable. */
    static double readNumber(String path, double fallback) {
        if (path == null || path.isEmpty()) {
            return fallback;
        }
        try {
            String s = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8).trim();
            return s.isEmpty() ? fallback : Double.parseDouble(s);
        } catch (Exception e) {
            return fallback;
        }
    }

    // ---------------------------------------------------------------- the source

    /** One partition of the generated "topic". */
    public static final class GenSplit implements SourceSplit {
        final int id;
        long offset; // records emitted
        double arrived; // records arrived so far
        long lastUpdateMs; // wall time `arrived` was brought up to date

        GenSplit(int id, long offset, double arrived, long lastUpdateMs) {
            this.id = id;
            this.offset = offset;
            this.arrived = arrived;
            this.lastUpdateMs = lastUpdateMs;
        }

        @Override
        public String splitId() {
            return Integer.toString(id);
        }

        GenSplit copy() {
            return new GenSplit(id, offset, arrived, lastUpdateMs);
        }
    }

    static final class SplitSerializer implements SimpleVersionedSerializer<GenSplit> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(GenSplit s) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(b);
            write(o, s);
            o.flush();
            return b.toByteArray();
        }

        @Override
        public GenSplit deserialize(int version, byte[] bytes) throws IOException {
            return read(new DataInputStream(new ByteArrayInputStream(bytes)));
        }

        static void write(DataOutputStream o, GenSplit s) throws IOException {
            o.writeInt(s.id);
            o.writeLong(s.offset);
            o.writeDouble(s.arrived);
            o.writeLong(s.lastUpdateMs);
        }

        static GenSplit read(DataInputStream in) throws IOException {
            return new GenSplit(in.readInt(), in.readLong(), in.readDouble(), in.readLong());
        }
    }

    static final class PendingSerializer implements SimpleVersionedSerializer<List<GenSplit>> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(List<GenSplit> splits) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(b);
            o.writeInt(splits.size());
            for (GenSplit s : splits) {
                SplitSerializer.write(o, s);
            }
            o.flush();
            return b.toByteArray();
        }

        @Override
        public List<GenSplit> deserialize(int version, byte[] bytes) throws IOException {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            int n = in.readInt();
            List<GenSplit> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                out.add(SplitSerializer.read(in));
            }
            return out;
        }
    }

    /** Hands split i to reader i % parallelism, like Kafka's partition assignment. */
    static final class GenEnumerator implements SplitEnumerator<GenSplit, List<GenSplit>> {
        private final SplitEnumeratorContext<GenSplit> ctx;
        private final List<GenSplit> pending;

        GenEnumerator(SplitEnumeratorContext<GenSplit> ctx, List<GenSplit> pending) {
            this.ctx = ctx;
            this.pending = pending;
        }

        @Override
        public void start() {}

        @Override
        public void handleSplitRequest(int subtaskId, String host) {}

        @Override
        public void addSplitsBack(List<GenSplit> splits, int subtaskId) {
            pending.addAll(splits);
            if (ctx.registeredReaders().containsKey(subtaskId)) {
                addReader(subtaskId);
            }
        }

        @Override
        public void addReader(int subtaskId) {
            int p = ctx.currentParallelism();
            List<GenSplit> mine = new ArrayList<>();
            List<GenSplit> rest = new ArrayList<>();
            for (GenSplit s : pending) {
                (s.id % p == subtaskId ? mine : rest).add(s);
            }
            if (!mine.isEmpty()) {
                pending.clear();
                pending.addAll(rest);
                Map<Integer, List<GenSplit>> a = new HashMap<>();
                a.put(subtaskId, mine);
                ctx.assignSplits(new org.apache.flink.api.connector.source.SplitsAssignment<>(a));
            }
        }

        @Override
        public List<GenSplit> snapshotState(long checkpointId) {
            List<GenSplit> out = new ArrayList<>();
            for (GenSplit s : pending) {
                out.add(s.copy());
            }
            return out;
        }

        @Override
        public void close() {}
    }

    /** Emits the arrived records of its splits, one per poll; reports the backlog. */
    static final class GenReader implements SourceReader<Long, GenSplit> {
        private final SourceReaderContext ctx;
        private final double fixedRate;
        private final String rateFile;
        private final int partitions;
        private final List<GenSplit> splits = new ArrayList<>();
        private double rate;
        private long rateReadMs;
        private int next;
        private Counter recordsIn;

        GenReader(SourceReaderContext ctx, double rate, String rateFile, int partitions) {
            this.ctx = ctx;
            this.fixedRate = rate;
            this.rateFile = rateFile;
            this.partitions = partitions;
            this.rate = rate;
        }

        @Override
        public void start() {
            ctx.metricGroup().setPendingRecordsGauge(this::pending);
            ctx.metricGroup().gauge("arrivedRecords", this::arrived);
            recordsIn = ctx.metricGroup().getIOMetricGroup().getNumRecordsInCounter();
        }

        // Both gauges bring the arrivals up to the moment they are read. A Kafka topic's end
        // offset moves whether or not the reader polls; accruing only in pollNext froze the
        // backlog while the source was back-pressured (no polls for up to ~1 s when a consumer
        // frees a whole 32-KB buffer at a time), so read + backlog under-counted the arrivals
        // of a 5-s window by up to ~20 % (DS2 scaled a draining job from 4 to 2 on it).
        private synchronized Long pending() {
            accrue(System.currentTimeMillis());
            long p = 0;
            for (GenSplit s : splits) {
                p += Math.max(0L, (long) Math.floor(s.arrived) - s.offset);
            }
            return p;
        }

        private synchronized Long arrived() {
            accrue(System.currentTimeMillis());
            long a = 0;
            for (GenSplit s : splits) {
                a += (long) Math.floor(s.arrived);
            }
            return a;
        }

        private void accrue(long now) {
            if (now - rateReadMs >= 500) {
                rate = Math.max(0.0, readNumber(rateFile, fixedRate));
                rateReadMs = now;
            }
            double perSplit = rate / partitions;
            for (GenSplit s : splits) {
                if (now > s.lastUpdateMs) {
                    s.arrived += perSplit * (now - s.lastUpdateMs) / 1000.0;
                    s.lastUpdateMs = now;
                }
            }
        }

        @Override
        public synchronized InputStatus pollNext(ReaderOutput<Long> out) {
            if (splits.isEmpty()) {
                return InputStatus.NOTHING_AVAILABLE;
            }
            accrue(System.currentTimeMillis());
            for (int i = 0; i < splits.size(); i++) {
                GenSplit s = splits.get((next + i) % splits.size());
                if ((long) Math.floor(s.arrived) > s.offset) {
                    next = (next + i + 1) % splits.size();
                    long value = ((long) s.id << 40) | s.offset;
                    s.offset++;
                    recordsIn.inc();
                    out.collect(value);
                    return InputStatus.MORE_AVAILABLE;
                }
            }
            return InputStatus.NOTHING_AVAILABLE;
        }

        @Override
        public synchronized List<GenSplit> snapshotState(long checkpointId) {
            List<GenSplit> out = new ArrayList<>();
            for (GenSplit s : splits) {
                out.add(s.copy());
            }
            return out;
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            return CompletableFuture.runAsync(
                    () -> {}, CompletableFuture.delayedExecutor(2, TimeUnit.MILLISECONDS));
        }

        @Override
        public synchronized void addSplits(List<GenSplit> added) {
            splits.addAll(added);
        }

        @Override
        public void notifyNoMoreSplits() {}

        @Override
        public void close() {}
    }

    static final class GenSource implements Source<Long, GenSplit, List<GenSplit>> {
        private final double rate;
        private final String rateFile;
        private final int partitions;

        GenSource(double rate, String rateFile, int partitions) {
            this.rate = rate;
            this.rateFile = rateFile;
            this.partitions = partitions;
        }

        @Override
        public Boundedness getBoundedness() {
            return Boundedness.CONTINUOUS_UNBOUNDED;
        }

        @Override
        public SourceReader<Long, GenSplit> createReader(SourceReaderContext ctx) {
            return new GenReader(ctx, rate, rateFile, partitions);
        }

        @Override
        public SplitEnumerator<GenSplit, List<GenSplit>> createEnumerator(
                SplitEnumeratorContext<GenSplit> ctx) {
            long now = System.currentTimeMillis();
            List<GenSplit> all = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                all.add(new GenSplit(i, 0, 0.0, now));
            }
            return new GenEnumerator(ctx, all);
        }

        @Override
        public SplitEnumerator<GenSplit, List<GenSplit>> restoreEnumerator(
                SplitEnumeratorContext<GenSplit> ctx, List<GenSplit> pending) {
            return new GenEnumerator(ctx, new ArrayList<>(pending));
        }

        @Override
        public SimpleVersionedSerializer<GenSplit> getSplitSerializer() {
            return new SplitSerializer();
        }

        @Override
        public SimpleVersionedSerializer<List<GenSplit>> getEnumeratorCheckpointSerializer() {
            return new PendingSerializer();
        }
    }

    // ---------------------------------------------------------------- the work

    /** Busy-spins the per-record cost on a keyed counter. */
    static final class Work extends KeyedProcessFunction<Long, Long, Long> {
        private final double fixedCostUs;
        private final String costFile;
        private final boolean sleep;
        private transient ValueState<Long> count;
        private transient double costUs;
        private transient long costReadMs;

        Work(double costUs, String costFile, boolean sleep) {
            this.fixedCostUs = costUs;
            this.costFile = costFile;
            this.sleep = sleep;
        }

        @Override
        public void open(Configuration parameters) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            costUs = fixedCostUs;
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            long nowMs = System.currentTimeMillis();
            if (nowMs - costReadMs >= 500) {
                costUs = Math.max(0.0, readNumber(costFile, fixedCostUs));
                costReadMs = nowMs;
            }
            long end = System.nanoTime() + (long) (costUs * 1000.0);
            long left;
            while ((left = end - System.nanoTime()) > 0) {
                if (sleep) {
                    java.util.concurrent.locks.LockSupport.parkNanos(left);
                }
                // else busy: the per-record cost
            }
            Long c = count.value();
            count.update(c == null ? 1L : c + 1L);
            out.collect(value);
        }
    }

    // ---------------------------------------------------------------- main

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --key value pairs, found " + args[i]);
            }
            a.put(args[i].substring(2), args[i + 1]);
        }
        double rate = Double.parseDouble(a.getOrDefault("rate", "1000"));
        double costUs = Double.parseDouble(a.getOrDefault("cost-us", "200"));
        int partitions = Integer.parseInt(a.getOrDefault("partitions", "8"));
        long checkpointMs = Long.parseLong(a.getOrDefault("checkpoint-ms", "0"));
        int keys = Integer.parseInt(a.getOrDefault("keys", "1024"));
        boolean sleep = "sleep".equals(a.getOrDefault("cost-mode", "spin"));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        if (checkpointMs > 0) {
            env.enableCheckpointing(checkpointMs);
        }
        env.fromSource(
                        new GenSource(rate, a.get("rate-file"), partitions),
                        WatermarkStrategy.noWatermarks(),
                        "gen")
                .uid("gen")
                .map((MapFunction<Long, Long>) v -> v)
                .returns(Types.LONG)
                .uid("parse")
                .name("parse")
                .keyBy(v -> (v * 0x9E3779B97F4A7C15L >>> 1) % keys, Types.LONG)
                .process(new Work(costUs, a.get("cost-file"), sleep))
                .returns(Types.LONG)
                .uid("work")
                .name("work")
                .sinkTo(new DiscardingSink<>())
                .uid("sink")
                .name("sink");
        env.execute(a.getOrDefault("name", "rate-job"));
    }
}

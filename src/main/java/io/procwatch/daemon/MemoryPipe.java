package io.procwatch.daemon;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A one-way byte pipe inside the JVM, for a RUN's in-process daemon connections. An OS pipe
 * would do, but a virtual thread blocked on one parks through the JDK's epoll poller (a register
 * and a wake-up per read); this parks on a lock instead, which is most of what a small RUN
 * costs the daemon otherwise. Bounded: a writer waits while CAPACITY bytes are unread, so a slow
 * reader stalls only its own run. Closing the sink is end-of-stream for the reader once it has
 * read what was written; closing the source makes writes fail. Blocked calls end on interrupt.
 */
final class MemoryPipe {
    static final int CAPACITY = 64 * 1024;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition readable = lock.newCondition();
    private final Condition writable = lock.newCondition();
    private final byte[] buf = new byte[CAPACITY];
    private int head; // next byte to read
    private int count;
    private boolean sinkClosed;
    private boolean sourceClosed;

    private final ReadableByteChannel source = new ReadableByteChannel() {
        @Override
        public int read(ByteBuffer dst) throws IOException {
            lock.lock();
            try {
                while (count == 0) {
                    if (sourceClosed) {
                        throw new ClosedChannelException();
                    }
                    if (sinkClosed) {
                        return -1;
                    }
                    await(readable);
                }
                if (sourceClosed) {
                    throw new ClosedChannelException();
                }
                int n = Math.min(dst.remaining(), Math.min(count, CAPACITY - head));
                dst.put(buf, head, n);
                head = (head + n) % CAPACITY;
                count -= n;
                writable.signalAll();
                return n;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public boolean isOpen() {
            lock.lock();
            try {
                return !sourceClosed;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() {
            lock.lock();
            try {
                sourceClosed = true;
                readable.signalAll();
                writable.signalAll();
            } finally {
                lock.unlock();
            }
        }
    };

    private final WritableByteChannel sink = new WritableByteChannel() {
        @Override
        public int write(ByteBuffer src) throws IOException {
            int total = src.remaining();
            lock.lock();
            try {
                while (src.hasRemaining()) {
                    if (sinkClosed || sourceClosed) {
                        throw new ClosedChannelException();
                    }
                    if (count == CAPACITY) {
                        await(writable);
                        continue;
                    }
                    int tail = (head + count) % CAPACITY;
                    int n = Math.min(src.remaining(), Math.min(CAPACITY - count, CAPACITY - tail));
                    src.get(buf, tail, n);
                    count += n;
                    readable.signalAll();
                }
                return total;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public boolean isOpen() {
            lock.lock();
            try {
                return !sinkClosed;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() {
            lock.lock();
            try {
                sinkClosed = true;
                readable.signalAll();
                writable.signalAll();
            } finally {
                lock.unlock();
            }
        }
    };

    private static void await(Condition c) throws InterruptedIOException {
        try {
            c.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }

    ReadableByteChannel source() {
        return source;
    }

    WritableByteChannel sink() {
        return sink;
    }
}

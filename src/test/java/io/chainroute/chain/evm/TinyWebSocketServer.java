package io.chainroute.chain.evm;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A WebSocket server just big enough to play a node's newHeads endpoint in unit tests (RFC 6455:
 * the handshake, unfragmented text frames, close frames). Each accepted connection is handed to the
 * test, which scripts the node's side.
 */
final class TinyWebSocketServer implements AutoCloseable {
  private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

  private final ServerSocket server;
  private final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
  private final Thread acceptor;

  TinyWebSocketServer() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    acceptor = new Thread(this::acceptLoop, "tiny-ws-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String url() {
    return "ws://127.0.0.1:" + server.getLocalPort() + "/ws";
  }

  /** The next connection whose handshake completed, or null after {@code seconds}. */
  Connection next(long seconds) throws InterruptedException {
    return accepted.poll(seconds, TimeUnit.SECONDS);
  }

  /** Connections accepted and not yet taken with {@link #next}. */
  int waiting() {
    return accepted.size();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        accepted.add(new Connection(s));
      } catch (IOException e) {
        return; // closed, or a client that went away mid-handshake
      }
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Connection c : accepted) {
      c.drop();
    }
  }

  /** One client connection, handshake done. */
  static final class Connection {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    final String requestHead;

    Connection(Socket socket) throws IOException {
      this.socket = socket;
      socket.setSoTimeout(10_000);
      this.in = new DataInputStream(socket.getInputStream());
      this.out = socket.getOutputStream();
      requestHead = readHead(in);
      String key = null;
      for (String line : requestHead.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0
            && line.substring(0, colon)
                .trim()
                .toLowerCase(Locale.ROOT)
                .equals("sec-websocket-key")) {
          key = line.substring(colon + 1).trim();
        }
      }
      if (key == null) {
        socket.close();
        throw new IOException("not a WebSocket handshake");
      }
      out.write(
          ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  + "Sec-WebSocket-Accept: "
                  + accept(key)
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
    }

    /** The request header named {@code name} (any case), or null. */
    String header(String name) {
      for (String line : requestHead.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
          return line.substring(colon + 1).trim();
        }
      }
      return null;
    }

    /** The next text message from the client (control frames skipped). */
    String readText() throws IOException {
      while (true) {
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        long len = b1 & 0x7f;
        if (len == 126) {
          len = in.readUnsignedShort();
        } else if (len == 127) {
          len = in.readLong();
        }
        byte[] mask = new byte[4];
        if ((b1 & 0x80) != 0) {
          in.readFully(mask);
        }
        byte[] payload = new byte[Math.toIntExact(len)];
        in.readFully(payload);
        for (int i = 0; i < payload.length; i++) {
          payload[i] ^= mask[i % 4];
        }
        int opcode = b0 & 0x0f;
        if (opcode == 0x1) {
          return new String(payload, StandardCharsets.UTF_8);
        }
        if (opcode == 0x8) {
          throw new IOException("client closed");
        }
      }
    }

    void sendText(String text) throws IOException {
      frame(0x1, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A close frame with {@code status}, then the TCP connection closed. */
    void sendClose(int status) throws IOException {
      frame(0x8, new byte[] {(byte) (status >> 8), (byte) status});
      socket.close();
    }

    /** The TCP connection cut without a close frame (a node that died). */
    void drop() {
      try {
        socket.close();
      } catch (IOException e) {
        // already gone
      }
    }

    private synchronized void frame(int opcode, byte[] payload) throws IOException {
      ByteArrayOutputStream f = new ByteArrayOutputStream(payload.length + 10);
      f.write(0x80 | opcode);
      if (payload.length < 126) {
        f.write(payload.length);
      } else if (payload.length <= 0xffff) {
        f.write(126);
        f.write(payload.length >> 8);
        f.write(payload.length);
      } else {
        f.write(127);
        for (int shift = 56; shift >= 0; shift -= 8) {
          f.write((int) ((long) payload.length >> shift));
        }
      }
      f.writeBytes(payload);
      out.write(f.toByteArray());
      out.flush();
    }

    private static String readHead(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int matched = 0;
      byte[] end = {'\r', '\n', '\r', '\n'};
      while (matched < 4) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("connection closed during the handshake");
        }
        head.write(b);
        matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
      }
      return head.toString(StandardCharsets.US_ASCII);
    }

    private static String accept(String key) {
      try {
        byte[] sha1 =
            MessageDigest.getInstance("SHA-1")
                .digest((key + GUID).getBytes(StandardCharsets.US_ASCII));
        return Base64.getEncoder().encodeToString(sha1);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}

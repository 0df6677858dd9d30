// A Server-Sent Events parser over a fetch body. EventSource cannot POST, so the chat
// stream is read this way. Follows the WHATWG event-stream format: lines end with CRLF, LF
// or CR; "event:", "data:" and "id:" fields; ":" starts a comment (the server's pings); a
// blank line dispatches the event.

/** Yields {event, data, id} for each event of a ReadableStream of bytes. */
export async function* parseEventStream(body) {
  const lineEnd = /\r\n|\r|\n/g; // one per stream: exec() keeps its position
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "";
  let data = [];
  let id = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let start = 0;
      lineEnd.lastIndex = 0;
      let match;
      while ((match = lineEnd.exec(buffer))) {
        // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
        if (match[0] === "\r" && match.index === buffer.length - 1) break;
        const line = buffer.slice(start, match.index);
        start = lineEnd.lastIndex;
        if (line === "") {
          if (data.length) yield { event: event || "message", data: data.join("\n"), id };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "data") data.push(text);
        else if (field === "event") event = text;
        else if (field === "id" && !text.includes("\0")) id = text;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    // Leaving early (an error, or the consumer stopped) cancels the request body.
    await reader.cancel().catch(() => {});
  }
}

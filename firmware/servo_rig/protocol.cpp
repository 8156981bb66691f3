// Parsing and answering protocol v1 lines (docs/servo-protocol.md).
#include "protocol.h"

#include <Arduino.h>
#include <string.h>

#include "config.h"
#include "feedback.h"
#include "motion.h"

static const uint8_t MAX_PAIRS = 24;  // more than a board has channels: a longer list is refused

enum Command : uint8_t { C_UNKNOWN, C_HELLO, C_MOVE, C_POS, C_DETACH, C_SPEED, C_STOP, C_PING };
enum ReplyKind : uint8_t { R_NONE, R_OK, R_PONG, R_HELLO, R_POS, R_ACK, R_ERR };

// The last command's reply, sent again when the host resends it with the same id.
struct Reply {
    uint16_t id;
    uint16_t hash;
    ReplyKind kind;
    ErrCode code;
    const __FlashStringHelper *text;
    int32_t detail;  // a number printed after the text, or -1
};

static char s_line[RIG_LINE_MAX + 1];
static uint8_t s_len;
static bool s_overflow;
static Reply s_last;

static const char *const ERR_NAMES[] = {"", "E_SYNTAX", "E_CHANNEL", "E_RANGE",
                                        "E_BUSY", "E_STOPPED", "E_STALL"};

static uint16_t line_hash(const char *s) {
    uint16_t h = 0x811c;
    while (*s) h = (uint16_t)((h ^ (uint8_t)*s++) * 0x0101 + 0x3b);
    return h;
}

// --- replies ---------------------------------------------------------------------------------

static void send_err(uint16_t id, ErrCode code, const __FlashStringHelper *text, int32_t detail) {
    Serial.print(F("ERR "));
    Serial.print(id);
    Serial.print(' ');
    Serial.print(ERR_NAMES[code]);
    Serial.print(' ');
    Serial.print(text);
    if (detail >= 0) Serial.print(detail);
    Serial.print('\n');
}

static void send_id_line(const __FlashStringHelper *word, uint16_t id) {
    Serial.print(word);
    Serial.print(id);
    Serial.print('\n');
}

static void send_hello(uint16_t id) {
    Serial.print(F("OK "));
    Serial.print(id);
    Serial.print(F(" servo-rig " RIG_FW_VERSION " proto=1 channels="));
    Serial.print(RIG_CHANNELS);
    Serial.print('\n');
}

static void send_pos(uint16_t id) {
    Serial.print(F("POS "));
    Serial.print(id);
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        Serial.print(' ');
        Serial.print(ch);
        Serial.print('=');
        // Where the next move starts from: the last commanded pulse; before any command, where
        // the feedback pot says the servo is; '?' when neither is known.
        uint16_t us = g_channels[ch].pos_us;
        int16_t adc = feedback_adc(ch);
        if (us == 0 && adc >= 0) us = feedback_to_us(adc);
        if (us == 0) {
            Serial.print('?');
        } else {
            Serial.print(us);
        }
        if (feedback_wired(ch)) {
            Serial.print('/');
            Serial.print(adc < 0 ? 0 : adc);
        }
    }
    Serial.print('\n');
}

static void send_reply(const Reply &r) {
    switch (r.kind) {
        case R_OK: send_id_line(F("OK "), r.id); break;
        case R_PONG: send_id_line(F("PONG "), r.id); break;
        case R_ACK: send_id_line(F("ACK "), r.id); break;
        case R_HELLO: send_hello(r.id); break;
        case R_POS: send_pos(r.id); break;
        case R_ERR: send_err(r.id, r.code, r.text, r.detail); break;
        case R_NONE: break;
    }
}

void protocol_report_move() {
    if (g_move.state == MOVE_DONE) {
        Serial.print(F("DONE "));
        Serial.print(g_move.id);
        for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
            if (!(g_move.members & (1U << ch))) continue;
            Serial.print(' ');
            Serial.print(ch);
            Serial.print('=');
            Serial.print(g_channels[ch].target_us);
        }
        Serial.print('\n');
    } else if (g_move.state == MOVE_FAILED && g_move.error == E_STALL) {
        send_err(g_move.id, E_STALL, F("feedback off target on channel "), g_move.stall_ch);
    } else if (g_move.state == MOVE_FAILED) {
        send_err(g_move.id, g_move.error, F("stopped"), -1);
    }
}

// --- parsing ---------------------------------------------------------------------------------

static bool at_end(const char *p) { return *p == '\0'; }

// Read a space-separated unsigned number (at most 65535) at *p; moves *p past it and its space.
static bool read_u16(const char **p, uint16_t *out) {
    const char *s = *p;
    uint32_t value = 0;
    uint8_t digits = 0;
    while (*s >= '0' && *s <= '9') {
        value = value * 10 + (uint8_t)(*s++ - '0');
        if (++digits > 5 || value > 65535UL) return false;
    }
    if (!digits || (*s != ' ' && *s != '\0')) return false;
    if (*s == ' ') s++;
    *p = s;
    *out = (uint16_t)value;
    return true;
}

// Read a rate like "300" or "300.5" (rounded to whole microseconds per second).
static bool read_rate(const char **p, uint32_t *out) {
    const char *s = *p;
    uint32_t whole = 0;
    uint8_t digits = 0;
    while (*s >= '0' && *s <= '9') {
        whole = whole * 10 + (uint8_t)(*s++ - '0');
        if (++digits > 6) return false;
    }
    if (!digits) return false;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9') return false;
        if (*s >= '5') whole++;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s != ' ' && *s != '\0') return false;
    if (*s == ' ') s++;
    *p = s;
    *out = whole;
    return true;
}

static Command read_command(const char **p) {
    static const char names[] PROGMEM = "HELLO\0MOVE\0POS\0DETACH\0SPEED\0STOP\0PING\0";
    const char *s = *p;
    const char *end = strchr(s, ' ');
    uint8_t len = (uint8_t)(end ? end - s : strlen(s));
    const char *name = names;
    for (uint8_t c = C_HELLO; c <= C_PING; c++) {
        uint8_t name_len = (uint8_t)strlen_P(name);
        if (name_len == len && strncmp_P(s, name, len) == 0) {
            *p = end ? end + 1 : s + len;
            return (Command)c;
        }
        name += name_len + 1;
    }
    *p = end ? end + 1 : s + len;
    return C_UNKNOWN;
}

// --- commands --------------------------------------------------------------------------------

static Reply err(uint16_t id, ErrCode code, const __FlashStringHelper *text, int32_t detail = -1) {
    return Reply{id, 0, R_ERR, code, text, detail};
}

static Reply ok(uint16_t id, ReplyKind kind) { return Reply{id, 0, kind, E_NONE, nullptr, -1}; }

static Reply do_move(uint16_t id, uint16_t hash, const char *p, uint32_t now_us, uint32_t now_ms) {
    uint8_t chs[MAX_PAIRS];
    uint16_t us[MAX_PAIRS];
    uint8_t n = 0;
    while (!at_end(p)) {
        if (n == MAX_PAIRS) return err(id, E_SYNTAX, F("too many channels"));
        if (!read_u16(&p, &us[n])) return err(id, E_SYNTAX, F("bad channel number"));
        chs[n] = (uint8_t)(us[n] > 255 ? 255 : us[n]);
        if (at_end(p)) return err(id, E_SYNTAX, F("missing pulse width"));
        if (!read_u16(&p, &us[n])) return err(id, E_SYNTAX, F("bad pulse width"));
        n++;
    }
    if (!n) return err(id, E_SYNTAX, F("no channel given"));
    uint16_t seen = 0;
    for (uint8_t i = 0; i < n; i++) {
        if (chs[i] >= RIG_CHANNELS) return err(id, E_CHANNEL, F("no such channel "), chs[i]);
        if (seen & (1U << chs[i])) return err(id, E_SYNTAX, F("channel twice: "), chs[i]);
        seen |= (uint16_t)(1U << chs[i]);
    }
    for (uint8_t i = 0; i < n; i++) {
        if (us[i] < RIG_MIN_US || us[i] > RIG_MAX_US) {
            return err(id, E_RANGE, F("pulse outside 500-2500 us: "), us[i]);
        }
    }
    if (motion_busy()) return err(id, E_BUSY, F("a move is running: id "), g_move.id);
    motion_start(id, hash, chs, us, n, now_us, now_ms);
    return ok(id, R_ACK);
}

static Reply do_detach(uint16_t id, const char *p) {
    uint16_t chosen = 0;
    while (!at_end(p)) {
        uint16_t ch;
        if (!read_u16(&p, &ch)) return err(id, E_SYNTAX, F("bad channel number"));
        if (ch >= RIG_CHANNELS) return err(id, E_CHANNEL, F("no such channel "), ch);
        chosen |= (uint16_t)(1U << ch);
    }
    if (!chosen) chosen = (uint16_t)((1UL << RIG_CHANNELS) - 1);
    // Always obeyed, even mid-move: detaching is how the host makes the bench safe.
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        if (chosen & (1U << ch)) motion_detach(ch);
    }
    return ok(id, R_OK);
}

static Reply do_speed(uint16_t id, const char *p) {
    uint32_t rate;
    if (!read_rate(&p, &rate) || !at_end(p)) return err(id, E_SYNTAX, F("speed needs one number"));
    if (rate < 1 || rate > RIG_MAX_SPEED_US_PER_S) {
        return err(id, E_RANGE, F("speed outside 1-20000 us/s: "), (int32_t)rate);
    }
    motion_set_speed((uint16_t)rate);
    return ok(id, R_OK);
}

static Reply execute(Command cmd, uint16_t id, uint16_t hash, const char *p, uint32_t now_us,
                     uint32_t now_ms) {
    bool no_args = at_end(p);
    switch (cmd) {
        case C_MOVE: return do_move(id, hash, p, now_us, now_ms);
        case C_DETACH: return do_detach(id, p);
        case C_SPEED: return do_speed(id, p);
        case C_HELLO: return no_args ? ok(id, R_HELLO) : err(id, E_SYNTAX, F("unexpected field"));
        case C_POS: return no_args ? ok(id, R_POS) : err(id, E_SYNTAX, F("unexpected field"));
        case C_PING: return no_args ? ok(id, R_PONG) : err(id, E_SYNTAX, F("unexpected field"));
        case C_STOP:
            if (!no_args) return err(id, E_SYNTAX, F("unexpected field"));
            if (motion_stop()) protocol_report_move();  // the halted MOVE ends first
            return ok(id, R_OK);
        case C_UNKNOWN: break;
    }
    return err(id, E_SYNTAX, F("unknown command"));
}

// Act on one complete line; returns true if it carried a readable id (a command).
static bool handle_line(uint32_t now_us, uint32_t now_ms) {
    if (s_len && s_line[s_len - 1] == '\r') s_line[--s_len] = '\0';
    const char *p = s_line;
    Command cmd = read_command(&p);
    uint16_t id = 0;
    if (!read_u16(&p, &id) || id == 0) {
        send_err(0, E_SYNTAX, s_overflow ? F("line too long") : F("no command id"), -1);
        return false;
    }
    if (s_overflow) {
        send_err(id, E_SYNTAX, F("line too long"), -1);
        return true;
    }
    uint16_t hash = line_hash(s_line);
    if (cmd == C_MOVE && g_move.state != MOVE_NONE && g_move.id == id && g_move.hash == hash) {
        // A resent MOVE: executed once, answered again (with its outcome if it has ended).
        send_id_line(F("ACK "), id);
        if (!motion_busy()) protocol_report_move();
        return true;
    }
    if (s_last.kind != R_NONE && s_last.id == id && s_last.hash == hash) {
        send_reply(s_last);
        return true;
    }
    Reply r = execute(cmd, id, hash, p, now_us, now_ms);
    r.hash = hash;
    s_last = r;
    send_reply(r);
    return true;
}

void protocol_begin() {
    s_len = 0;
    s_overflow = false;
    s_last.kind = R_NONE;
    Serial.print(F("READY servo-rig " RIG_FW_VERSION " proto=1 channels="));
    Serial.print(RIG_CHANNELS);
    Serial.print('\n');
}

bool protocol_poll(uint32_t now_us, uint32_t now_ms) {
    bool command = false;
    while (Serial.available() > 0) {
        char c = (char)Serial.read();
        if (c == '\n') {
            s_line[s_len] = '\0';
            command |= handle_line(now_us, now_ms);
            s_len = 0;
            s_overflow = false;
        } else if (s_len < RIG_LINE_MAX) {
            s_line[s_len++] = c;
        } else {
            s_overflow = true;  // keep the start (for the id), drop the rest of the line
        }
    }
    return command;
}

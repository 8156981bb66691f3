/*
 * servo_sim: run the servo rig firmware in simavr, its UART on a pseudo-terminal, and log what
 * the servos would receive.
 *
 *   servo_sim [--log PATH] [--speed X | --unthrottled] [--pot CH=follow|CH=stuck:US ...]
 *             [--pca9685] [--no-wait] FW.elf
 *
 * Simulated time runs at real time by default, X times real time with --speed X, or as fast as
 * the host allows with --unthrottled (the AVR's idle sleeps are skipped).
 *
 * stdout: "PTY /dev/pts/N" once the pseudo-terminal exists. The AVR starts when a line "GO"
 * arrives on stdin (a real board resets when the host opens the port; pyserial drops input that
 * arrived before it opened), or at once with --no-wait. Later stdin lines: "RESET" (reset the
 * AVR, as a board does when its power dips), "RESET AT WORD N MS" (reset it MS simulated ms
 * after it has received its N-th line starting with WORD from now: a brown-out at a known point
 * of a move, in AVR time), "POT CH follow", "POT CH stuck US", "QUIT".
 * End of stdin also quits.
 *
 * Log lines (to --log PATH, else stdout), times in AVR cycles at 16 MHz:
 *   HZ 16000000
 *   START <cycle>                  the AVR starts (GO)
 *   P <ch> <rise_cycle> <width>    one servo pulse, width in cycles
 *   RX <cycle> <text>              a line the AVR received (cycle of its last byte)
 *   TX <cycle> <text>              a line the AVR sent (cycle of its newline)
 *   I2C <cycle> <reg> <hex> ...    bytes written to the PCA9685 (--pca9685) from register reg
 *   T <cycle>                      once per simulated second (time goes on without pulses)
 *   RESET <cycle>
 *   END <cycle>
 * Channel ch is pin D(2+ch) for ch 0-5 (the firmware's pin variant). With --pca9685 a PCA9685
 * answers at I2C address 0x40 and its register writes are logged (decoded by the tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avr_adc.h"
#include "avr_ioport.h"
#include "avr_twi.h"
#include "avr_uart.h"
#include "parts/uart_pty.h"
#include "sim_avr.h"
#include "sim_elf.h"

#define FREQ_HZ 16000000UL
#define CHANNELS 6
#define FIRST_PIN 2
#define POTS 4
#define LINE_MAX_CHARS 256

typedef struct {
    int wired;
    int follow;          /* 1: follows the servo's pulse width; 0: stuck */
    uint32_t stuck_us;   /* the pulse width a stuck pot reads as */
} pot_t;

typedef struct {
    char text[LINE_MAX_CHARS];
    size_t len;
} line_t;

static avr_t *avr;
static uart_pty_t pty;
static FILE *log_file;
static int high[CHANNELS];
static avr_cycle_count_t rise[CHANNELS];
static uint32_t last_width_us[CHANNELS];
static pot_t pots[POTS];
static line_t rx_line, tx_line;

/* A PCA9685 on the I2C bus: acknowledges its address and every byte written to it; the first
 * byte of a write is the register, the rest are logged (the chip auto-increments). */
#define PCA9685_ADDR 0x40
typedef struct {
    avr_irq_t *irq;
    int selected;
    int index;
    uint8_t reg;
    char bytes[3 * 64 + 1];
    size_t len;
} pca_t;
static pca_t pca;

static void pca_flush(void) {
    if (pca.index > 1) {
        fprintf(log_file, "I2C %llu %u%s\n", (unsigned long long)avr->cycle, pca.reg, pca.bytes);
    }
    pca.len = 0;
    pca.bytes[0] = '\0';
}

static void on_twi(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    avr_twi_msg_irq_t v;
    v.u.v = value;
    if (v.u.twi.msg & TWI_COND_STOP) {
        if (pca.selected) pca_flush();
        pca.selected = 0;
    }
    if (v.u.twi.msg & TWI_COND_START) {
        if (pca.selected) pca_flush(); /* a repeated start ends the previous write */
        pca.selected = 0;
        pca.index = 0;
        if ((v.u.twi.addr >> 1) == PCA9685_ADDR && !(v.u.twi.addr & 1)) {
            pca.selected = 1;
            avr_raise_irq(pca.irq + TWI_IRQ_INPUT, avr_twi_irq_msg(TWI_COND_ACK, v.u.twi.addr, 1));
        }
    }
    if (pca.selected && (v.u.twi.msg & TWI_COND_WRITE)) {
        avr_raise_irq(pca.irq + TWI_IRQ_INPUT,
                      avr_twi_irq_msg(TWI_COND_ACK, PCA9685_ADDR << 1, 1));
        if (pca.index == 0) {
            pca.reg = v.u.twi.data;
        } else if (pca.len + 4 < sizeof pca.bytes) {
            pca.len += (size_t)sprintf(pca.bytes + pca.len, " %02x", v.u.twi.data);
        }
        pca.index++;
    }
}

static void pca_attach(void) {
    static const char *names[2] = {[TWI_IRQ_INPUT] = "8>pca9685.out",
                                   [TWI_IRQ_OUTPUT] = "32<pca9685.in"};
    pca.irq = avr_alloc_irq(&avr->irq_pool, 0, 2, names);
    avr_irq_register_notify(pca.irq + TWI_IRQ_OUTPUT, on_twi, NULL);
    avr_connect_irq(pca.irq + TWI_IRQ_INPUT, avr_io_getirq(avr, AVR_IOCTL_TWI_GETIRQ(0), TWI_IRQ_INPUT));
    avr_connect_irq(avr_io_getirq(avr, AVR_IOCTL_TWI_GETIRQ(0), TWI_IRQ_OUTPUT), pca.irq + TWI_IRQ_OUTPUT);
}

/* Requests from the stdin thread and signal handlers, applied between simulation slices. */
static atomic_int want_go, want_reset, want_quit;

/* "RESET AT WORD N MS": armed by the stdin thread, counted and fired by the simulation. */
static char reset_word[16];
static atomic_int reset_armed, reset_left;
static atomic_uint reset_delay_ms;
static avr_cycle_count_t reset_at; /* 0: none scheduled */
static pthread_mutex_t pot_lock = PTHREAD_MUTEX_INITIALIZER;

static void quit_now(int code) {
    char link[64];
    char target[128];
    if (log_file) {
        fprintf(log_file, "END %llu\n", avr ? (unsigned long long)avr->cycle : 0ULL);
        fflush(log_file);
    }
    fflush(stdout);
    /* uart_pty_connect made this link; remove it only if it is still ours. uart_pty_stop() can
     * hang, so the process ends with _exit and the kernel closes the pty. */
    snprintf(link, sizeof link, "/tmp/simavr-uart0");
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        if (strcmp(target, pty.pty.slavename) == 0) unlink(link);
    }
    _exit(code);
}

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&want_quit, 1);
}

static void on_pin(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    int ch = (int)(intptr_t)param;
    if (value && !high[ch]) {
        high[ch] = 1;
        rise[ch] = avr->cycle;
    } else if (!value && high[ch]) {
        high[ch] = 0;
        avr_cycle_count_t width = avr->cycle - rise[ch];
        last_width_us[ch] = (uint32_t)(width * 1000000ULL / FREQ_HZ);
        fprintf(log_file, "P %d %llu %llu\n", ch, (unsigned long long)rise[ch],
                (unsigned long long)width);
    }
}

/* A line the AVR received: count it toward an armed "RESET AT". */
static void count_for_reset(const char *text) {
    if (!atomic_load(&reset_armed)) return;
    size_t n = strlen(reset_word);
    if (strncmp(text, reset_word, n) != 0 || (text[n] != ' ' && text[n] != '\0')) return;
    if (atomic_fetch_sub(&reset_left, 1) == 1) {
        atomic_store(&reset_armed, 0);
        reset_at = avr->cycle + (avr_cycle_count_t)atomic_load(&reset_delay_ms) * (FREQ_HZ / 1000);
    }
}

static void log_byte(line_t *line, const char *tag, uint32_t value) {
    char c = (char)value;
    if (c == '\n') {
        line->text[line->len] = '\0';
        fprintf(log_file, "%s %llu %s\n", tag, (unsigned long long)avr->cycle, line->text);
        if (line == &rx_line) count_for_reset(line->text);
        line->len = 0;
    } else if (c != '\r' && line->len < LINE_MAX_CHARS - 1) {
        line->text[line->len++] = (c >= 32 && c < 127) ? c : '?';
    }
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    log_byte(&tx_line, "TX", value);
}

static void on_uart_in(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    log_byte(&rx_line, "RX", value);
}

/* The ADC is about to convert: put every wired pot's voltage on its input (AVcc = 5 V). */
static void on_adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)value; (void)param;
    pthread_mutex_lock(&pot_lock);
    for (int ch = 0; ch < POTS; ch++) {
        if (!pots[ch].wired) continue;
        uint32_t us = pots[ch].follow ? last_width_us[ch] : pots[ch].stuck_us;
        if (pots[ch].follow && us == 0) us = pots[ch].stuck_us; /* no pulse yet: where it rests */
        if (us < 500) us = 500;
        if (us > 2500) us = 2500;
        uint32_t mv = (us - 500) * 5000 / 2000;
        avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + ch), mv);
    }
    pthread_mutex_unlock(&pot_lock);
}

/* "CH=follow" or "CH=stuck:US" (also used by the stdin command "POT CH follow|stuck US"). */
static int set_pot(int ch, const char *mode, uint32_t us) {
    if (ch < 0 || ch >= POTS) return -1;
    pthread_mutex_lock(&pot_lock);
    pots[ch].wired = 1;
    if (strcmp(mode, "follow") == 0) {
        pots[ch].follow = 1;
        if (us) pots[ch].stuck_us = us;
    } else if (strcmp(mode, "stuck") == 0) {
        pots[ch].follow = 0;
        pots[ch].stuck_us = us ? us : 1500;
    } else {
        pthread_mutex_unlock(&pot_lock);
        return -1;
    }
    pthread_mutex_unlock(&pot_lock);
    return 0;
}

static int parse_pot_option(const char *arg) {
    int ch;
    char mode[16] = "";
    unsigned us = 0;
    if (sscanf(arg, "%d=%15[a-z]:%u", &ch, mode, &us) < 2) return -1;
    return set_pot(ch, mode, us ? us : 1500);
}

static void *stdin_thread(void *arg) {
    (void)arg;
    char buf[128];
    while (fgets(buf, sizeof buf, stdin)) {
        int ch, nth;
        char mode[16];
        char word[16];
        unsigned us = 0, ms = 0;
        if (strncmp(buf, "GO", 2) == 0) {
            atomic_store(&want_go, 1);
        } else if (sscanf(buf, "RESET AT %15s %d %u", word, &nth, &ms) == 3 && nth > 0) {
            strcpy(reset_word, word);
            atomic_store(&reset_delay_ms, ms);
            atomic_store(&reset_left, nth);
            atomic_store(&reset_armed, 1);
        } else if (strncmp(buf, "RESET", 5) == 0) {
            atomic_store(&want_reset, 1);
        } else if (strncmp(buf, "QUIT", 4) == 0) {
            break;
        } else if (sscanf(buf, "POT %d %15s %u", &ch, mode, &us) >= 2) {
            if (set_pot(ch, mode, us) != 0) fprintf(stderr, "servo_sim: bad POT line: %s", buf);
        } else {
            fprintf(stderr, "servo_sim: unknown command: %s", buf);
        }
    }
    atomic_store(&want_quit, 1);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The AVR sleeps between loop passes: skip the time at once (simavr's default callback would
 * sleep in wall time; the throttle below keeps real time when wanted). */
static void sleep_skip(struct avr_t *a, avr_cycle_count_t how_long) {
    (void)a; (void)how_long;
}

static void quiet_logger(struct avr_t *a, const int level, const char *format, va_list ap) {
    (void)a;
    if (level <= LOG_WARNING) vfprintf(stderr, format, ap);
}

int main(int argc, char *argv[]) {
    const char *elf_path = NULL;
    const char *log_path = NULL;
    double speed = 1.0; /* simulated seconds per wall second; 0 = unthrottled */
    int wait_go = 1;
    int with_pca = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            log_path = argv[++i];
        } else if (strcmp(argv[i], "--unthrottled") == 0) {
            speed = 0;
        } else if (strcmp(argv[i], "--speed") == 0 && i + 1 < argc) {
            speed = atof(argv[++i]);
            if (speed <= 0) {
                fprintf(stderr, "servo_sim: --speed needs a factor > 0\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--pca9685") == 0) {
            with_pca = 1;
        } else if (strcmp(argv[i], "--no-wait") == 0) {
            wait_go = 0;
        } else if (strcmp(argv[i], "--pot") == 0 && i + 1 < argc) {
            if (parse_pot_option(argv[++i]) != 0) {
                fprintf(stderr, "servo_sim: bad --pot %s (CH=follow or CH=stuck:US, CH 0-3)\n",
                        argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-' && !elf_path) {
            elf_path = argv[i];
        } else {
            fprintf(stderr, "usage: servo_sim [--log PATH] [--speed X | --unthrottled] "
                            "[--no-wait] [--pot CH=follow|CH=stuck:US] [--pca9685] FIRMWARE.elf\n");
            return 2;
        }
    }
    if (!elf_path) {
        fprintf(stderr, "servo_sim: no firmware given\n");
        return 2;
    }
    log_file = log_path ? fopen(log_path, "w") : stdout;
    if (!log_file) {
        perror(log_path);
        return 1;
    }
    setvbuf(log_file, NULL, _IOLBF, 0);
    avr_global_logger_set(quiet_logger);

    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf_path, &fw) != 0) {
        fprintf(stderr, "servo_sim: cannot read %s\n", elf_path);
        return 1;
    }
    /* Both before loading: simavr otherwise runs the AVR at 1 MHz. */
    strcpy(fw.mmcu, "atmega328p");
    fw.frequency = FREQ_HZ;
    avr = avr_make_mcu_by_name(fw.mmcu);
    if (!avr) {
        fprintf(stderr, "servo_sim: simavr has no atmega328p\n");
        return 1;
    }
    avr_init(avr);
    avr_load_firmware(avr, &fw);
    avr->frequency = FREQ_HZ;
    avr->vcc = avr->avcc = avr->aref = 5000;
    avr->sleep = sleep_skip;

    for (int ch = 0; ch < CHANNELS; ch++) {
        avr_irq_register_notify(
            avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), IOPORT_IRQ_PIN0 + FIRST_PIN + ch),
            on_pin, (void *)(intptr_t)ch);
    }
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER),
                            on_adc_trigger, NULL);
    if (with_pca) pca_attach();

    uart_pty_init(avr, &pty);
    uart_pty_connect(&pty, '0');
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
                            on_uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT),
                            on_uart_in, NULL);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("PTY %s\n", pty.pty.slavename);
    fflush(stdout);
    fprintf(log_file, "HZ %lu\n", FREQ_HZ);

    pthread_t reader;
    pthread_create(&reader, NULL, stdin_thread, NULL);
    pthread_detach(reader);

    if (wait_go) {
        while (!atomic_load(&want_go)) {
            if (atomic_load(&want_quit)) quit_now(0);
            usleep(1000);
        }
    }
    fprintf(log_file, "START %llu\n", (unsigned long long)avr->cycle);

    const avr_cycle_count_t slice = FREQ_HZ / 1000; /* check requests and the clock every 1 ms */
    avr_cycle_count_t start_cycle = avr->cycle;
    double start_wall = now_s();
    avr_cycle_count_t next_check = avr->cycle + slice;
    avr_cycle_count_t next_tick = avr->cycle + FREQ_HZ;
    for (;;) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "servo_sim: the AVR %s at cycle %llu\n",
                    state == cpu_Done ? "stopped" : "crashed", (unsigned long long)avr->cycle);
            quit_now(1);
        }
        if (avr->cycle < next_check) continue;
        next_check = avr->cycle + slice;
        if (atomic_load(&want_quit)) quit_now(0);
        if (avr->cycle >= next_tick) {
            fprintf(log_file, "T %llu\n", (unsigned long long)avr->cycle);
            next_tick += FREQ_HZ;
        }
        int due = reset_at && avr->cycle >= reset_at;
        if (atomic_exchange(&want_reset, 0) || due) {
            reset_at = 0;
            avr_reset(avr);
            for (int ch = 0; ch < CHANNELS; ch++) high[ch] = 0;
            rx_line.len = tx_line.len = 0;
            fprintf(log_file, "RESET %llu\n", (unsigned long long)avr->cycle);
        }
        if (speed > 0) {
            double ahead_s =
                (double)(avr->cycle - start_cycle) / FREQ_HZ / speed - (now_s() - start_wall);
            if (ahead_s > 0.002) usleep((useconds_t)(ahead_s * 1e6));
        }
    }
}

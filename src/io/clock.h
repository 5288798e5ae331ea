/* The real clock the event-loop layer hands to the core. */
#ifndef ROTOR_IO_CLOCK_H
#define ROTOR_IO_CLOCK_H
#include <stdint.h>
/* Monotonic milliseconds (CLOCK_MONOTONIC); for durations and deadlines. */
uint64_t io_now_ms(void);
/* Wall-clock milliseconds since the Unix epoch; for log timestamps only. */
uint64_t io_wall_ms(void);
#endif

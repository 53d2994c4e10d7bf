/* banned.h: functions that are easy to misuse, made compile errors (after git).
 * Include it last, after every system header. */
#ifndef TR_BANNED_H
#define TR_BANNED_H

#define TR_BANNED(func) sorry_##func##_is_banned_in_trestle

#undef strcpy
#define strcpy(x, y) TR_BANNED(strcpy)
#undef strcat
#define strcat(x, y) TR_BANNED(strcat)
#undef sprintf
#define sprintf(...) TR_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) TR_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) TR_BANNED(strtok)
#undef gmtime
#define gmtime(t) TR_BANNED(gmtime)
#undef localtime
#define localtime(t) TR_BANNED(localtime)
#undef gets
#define gets(x) TR_BANNED(gets)
#undef atoi
#define atoi(x) TR_BANNED(atoi)

#endif

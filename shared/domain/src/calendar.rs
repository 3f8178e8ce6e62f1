//! Business calendar of the fulfillment centre: Chicago wall-clock days, US federal
//! holidays as observed, and the deadlines derived from them (order completion, first
//! carrier scan, stalled shipments, tracking expiry).
//!
//! Every rule is phrased in Chicago local time because that is where the warehouse
//! works and where merchants' expectations were set; instants enter and leave as UTC so
//! storage and comparison never depend on an offset.
//!
//! Functions here never panic. Where a computation would leave chrono's representable
//! range (hundreds of thousands of years away) it saturates at the calendar's end
//! instead, because a deadline "at the end of time" is a safer answer for a caller than
//! a crashed Lambda.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Utc, Weekday,
};

/// The time zone every business rule is evaluated in.
pub const BUSINESS_TZ: chrono_tz::Tz = chrono_tz::America::Chicago;

/// How long carrier tracking stays queryable after the label is created.
pub const TRACKING_VALIDITY_DAYS: i64 = 120;

/// Local hour at which labelled orders flip to Completed: the morning after the label
/// day, once the overnight carrier pickups have left the dock.
const COMPLETION_HOUR: u32 = 6;

/// The Chicago calendar date an instant falls on.
pub fn chicago_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&BUSINESS_TZ).date_naive()
}

/// The instant at which Chicago clocks show `hour:minute` on `date`.
///
/// Values past 23:59 roll over into the following days (so `hour = 24` is the next
/// midnight) rather than failing, because callers compute these from offsets.
///
/// DST is resolved as people in Chicago experience it: a time repeated in the autumn
/// fall-back hour means its first occurrence, and a time skipped in the spring
/// is read with the offset in force before the jump, landing as far after the jump as
/// it was after its start (02:30 on spring-forward day is 03:30 CDT). Business hours
/// (midnight, 06:00) are never affected in Chicago, whose transitions happen at 02:00.
pub fn chicago_time_at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let wall = TimeDelta::try_hours(i64::from(hour))
        .zip(TimeDelta::try_minutes(i64::from(minute)))
        .and_then(|(h, m)| h.checked_add(&m))
        .and_then(|delta| date.and_time(NaiveTime::MIN).checked_add_signed(delta));
    match wall {
        Some(wall) => resolve_chicago_wall_time(wall),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

fn resolve_chicago_wall_time(wall: NaiveDateTime) -> DateTime<Utc> {
    if let Some(at) = BUSINESS_TZ.from_local_datetime(&wall).earliest() {
        return at.with_timezone(&Utc);
    }
    // `wall` is inside a spring-forward gap. Walk back to the last wall time that
    // exists, and apply its offset: that is the clock the person was reading when they
    // meant `wall`. Chicago's gap is one hour; the 48h bound only guarantees the loop
    // ends for any zone data.
    let step = TimeDelta::minutes(15);
    let mut probe = wall;
    for _ in 0..(48 * 4) {
        let Some(earlier) = probe.checked_sub_signed(step) else {
            break;
        };
        probe = earlier;
        if let Some(offset) = BUSINESS_TZ.offset_from_local_datetime(&probe).latest() {
            return match wall.checked_sub_offset(offset.fix()) {
                Some(utc) => utc.and_utc(),
                None => DateTime::<Utc>::MIN_UTC,
            };
        }
    }
    // Unreachable with real zone data; reading the wall time as UTC is off by hours at
    // worst, which beats panicking in a request handler.
    wall.and_utc()
}

/// The instant the Chicago day after `date` begins, i.e. the exclusive end of `date`.
///
/// "By the end of Monday" deadlines use this so that anything strictly before Tuesday
/// 00:00 CT counts as on time, and DST days simply come out 23 or 25 hours long.
pub fn end_of_chicago_day(date: NaiveDate) -> DateTime<Utc> {
    match date.succ_opt() {
        Some(next) => chicago_time_at(next, 0, 0),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// When an order whose tracking label was uploaded at `label_uploaded_at` becomes
/// Completed: 06:00 Chicago time on the calendar day after the upload's Chicago date.
///
/// The local date, not a 24h offset, decides it, so a 23:50 upload completes six hours
/// later while a 00:30 upload waits until the following morning.
pub fn completion_time(label_uploaded_at: DateTime<Utc>) -> DateTime<Utc> {
    match chicago_date(label_uploaded_at).succ_opt() {
        Some(next) => chicago_time_at(next, COMPLETION_HOUR, 0),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// How a holiday's nominal date is found in a given year.
#[derive(Debug, Clone, Copy)]
enum HolidayRule {
    /// Same month and day every year; moved off weekends when observed.
    Fixed { month: u32, day: u32 },
    /// The n-th (1-based) given weekday of the month; always a weekday already.
    Nth { month: u32, weekday: Weekday, n: u8 },
    /// The last given weekday of the month.
    Last { month: u32, weekday: Weekday },
}

#[derive(Debug, Clone, Copy)]
struct FederalHoliday {
    name: &'static str,
    rule: HolidayRule,
    /// First year the holiday applies. Only Juneteenth carries one: it is recent enough
    /// (2021) to fall inside the order history this system reports on. The other rules
    /// are applied in their current form to every year.
    since: Option<i32>,
}

/// The legal public holidays of 5 U.S.C. 6103(a), in calendar order.
const FEDERAL_HOLIDAYS: [FederalHoliday; 11] = [
    FederalHoliday {
        name: "New Year's Day",
        rule: HolidayRule::Fixed { month: 1, day: 1 },
        since: None,
    },
    FederalHoliday {
        name: "Birthday of Martin Luther King, Jr.",
        rule: HolidayRule::Nth {
            month: 1,
            weekday: Weekday::Mon,
            n: 3,
        },
        since: None,
    },
    FederalHoliday {
        name: "Washington's Birthday",
        rule: HolidayRule::Nth {
            month: 2,
            weekday: Weekday::Mon,
            n: 3,
        },
        since: None,
    },
    FederalHoliday {
        name: "Memorial Day",
        rule: HolidayRule::Last {
            month: 5,
            weekday: Weekday::Mon,
        },
        since: None,
    },
    FederalHoliday {
        name: "Juneteenth National Independence Day",
        rule: HolidayRule::Fixed { month: 6, day: 19 },
        since: Some(2021),
    },
    FederalHoliday {
        name: "Independence Day",
        rule: HolidayRule::Fixed { month: 7, day: 4 },
        since: None,
    },
    FederalHoliday {
        name: "Labor Day",
        rule: HolidayRule::Nth {
            month: 9,
            weekday: Weekday::Mon,
            n: 1,
        },
        since: None,
    },
    FederalHoliday {
        name: "Columbus Day",
        rule: HolidayRule::Nth {
            month: 10,
            weekday: Weekday::Mon,
            n: 2,
        },
        since: None,
    },
    FederalHoliday {
        name: "Veterans Day",
        rule: HolidayRule::Fixed { month: 11, day: 11 },
        since: None,
    },
    FederalHoliday {
        name: "Thanksgiving Day",
        rule: HolidayRule::Nth {
            month: 11,
            weekday: Weekday::Thu,
            n: 4,
        },
        since: None,
    },
    FederalHoliday {
        name: "Christmas Day",
        rule: HolidayRule::Fixed { month: 12, day: 25 },
        since: None,
    },
];

impl HolidayRule {
    fn nominal_date(self, year: i32) -> Option<NaiveDate> {
        match self {
            Self::Fixed { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            Self::Nth { month, weekday, n } => {
                NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
            }
            Self::Last { month, weekday } => {
                let last_day = if month == 12 {
                    NaiveDate::from_ymd_opt(year, 12, 31)
                } else {
                    NaiveDate::from_ymd_opt(year, month + 1, 1).and_then(|d| d.pred_opt())
                }?;
                let back = (7 + last_day.weekday().num_days_from_monday()
                    - weekday.num_days_from_monday())
                    % 7;
                last_day.checked_sub_days(Days::new(u64::from(back)))
            }
        }
    }

    /// The day off actually taken: the Friday before a Saturday date, the Monday after
    /// a Sunday one. Only fixed dates can fall on a weekend.
    fn observed_date(self, year: i32) -> Option<NaiveDate> {
        let nominal = self.nominal_date(year)?;
        match (self, nominal.weekday()) {
            (Self::Fixed { .. }, Weekday::Sat) => nominal.pred_opt(),
            (Self::Fixed { .. }, Weekday::Sun) => nominal.succ_opt(),
            _ => Some(nominal),
        }
    }
}

/// Observed holidays whose day off falls in `year`, in rule order (not sorted: New
/// Year's Day of the following year comes last).
///
/// Observance moves a date by one day at most, and the only holiday next to a year
/// boundary is New Year's Day, which a Saturday pulls back to Dec 31. So the holidays
/// of `year` and `year + 1` cover every day off in `year`.
fn observed_holidays_in(year: i32) -> impl Iterator<Item = (NaiveDate, &'static str)> {
    [Some(year), year.checked_add(1)]
        .into_iter()
        .flatten()
        .flat_map(|rule_year| {
            FEDERAL_HOLIDAYS.iter().filter_map(move |holiday| {
                if holiday.since.is_some_and(|since| rule_year < since) {
                    return None;
                }
                let date = holiday.rule.observed_date(rule_year)?;
                Some((date, holiday.name))
            })
        })
        .filter(move |(date, _)| date.year() == year)
}

/// `Some(name)` when `date` is the observed day off of a US federal holiday.
///
/// The name is the holiday's, so Friday 2021-12-31 answers "New Year's Day" (of 2022).
pub fn federal_holiday(date: NaiveDate) -> Option<&'static str> {
    observed_holidays_in(date.year())
        .find(|(observed, _)| *observed == date)
        .map(|(_, name)| name)
}

/// Every observed federal holiday whose day off falls in `year`, sorted by date.
///
/// This includes Dec 31 when the next New Year's Day is a Saturday, and consequently
/// omits New Year's Day from a year that starts on a Saturday.
pub fn federal_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut holidays: Vec<_> = observed_holidays_in(year).collect();
    holidays.sort_by_key(|(date, _)| *date);
    holidays
}

/// Monday to Friday, excluding observed federal holidays (carriers do not pick up or
/// scan on those).
pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && federal_holiday(date).is_none()
}

/// The first business day strictly after `after`.
///
/// Saturates at `NaiveDate::MAX` if the calendar runs out first.
pub fn next_business_day(after: NaiveDate) -> NaiveDate {
    let mut day = after;
    while let Some(next) = day.succ_opt() {
        if is_business_day(next) {
            return next;
        }
        day = next;
    }
    NaiveDate::MAX
}

/// The `n`-th business day strictly after `from`; `from` itself when `n == 0`, whether
/// or not it is a business day (counting starts the day after, so the starting day
/// never counts).
pub fn add_business_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut day = from;
    for _ in 0..n {
        let next = next_business_day(day);
        if next == day {
            // Saturated at the end of the calendar: further steps cannot move.
            break;
        }
        day = next;
    }
    day
}

/// When the first carrier scan is due: the end of the next business day after the
/// label's Chicago date.
///
/// The label day itself never counts, even when it is a business day, because carriers
/// collect the previous day's labels; a weekend label waits for Monday.
pub fn first_scan_due(label_uploaded_at: DateTime<Utc>) -> DateTime<Utc> {
    end_of_chicago_day(next_business_day(chicago_date(label_uploaded_at)))
}

/// Whether the first scan missed [`first_scan_due`]. A scan exactly at the due instant
/// is late: that instant is already the start of the following day.
pub fn is_first_scan_late(label_uploaded_at: DateTime<Utc>, first_scan_at: DateTime<Utc>) -> bool {
    first_scan_at >= first_scan_due(label_uploaded_at)
}

/// When a shipment with no news since `last_update_at` (last carrier event, or the
/// label if there is no scan yet) becomes stalled: the end of the `business_days`-th
/// business day after the update's Chicago date.
///
/// Counting whole business days, rather than elapsed hours, keeps weekends and holidays
/// (when carriers legitimately do not scan) from raising false alarms. Typical values
/// are 5 for domestic and 10 for international shipments; the caller decides.
pub fn stall_deadline(last_update_at: DateTime<Utc>, business_days: u32) -> DateTime<Utc> {
    end_of_chicago_day(add_business_days(
        chicago_date(last_update_at),
        business_days,
    ))
}

/// Whether `now` has reached [`stall_deadline`].
pub fn is_stalled(last_update_at: DateTime<Utc>, now: DateTime<Utc>, business_days: u32) -> bool {
    now >= stall_deadline(last_update_at, business_days)
}

/// When carrier tracking for a label stops being available: exactly
/// `TRACKING_VALIDITY_DAYS * 24` hours after the upload.
///
/// Elapsed time rather than Chicago calendar days because carriers purge tracking by
/// age, not by our local calendar; across a DST change the expiry therefore shows a
/// local time one hour off the upload's, which is irrelevant at a 120-day horizon and
/// keeps the rule free of time-zone edge cases.
pub fn tracking_expires_at(label_uploaded_at: DateTime<Utc>) -> DateTime<Utc> {
    TimeDelta::try_days(TRACKING_VALIDITY_DAYS)
        .and_then(|validity| label_uploaded_at.checked_add_signed(validity))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether tracking has expired at `now`; the expiry instant itself counts as expired.
pub fn is_tracking_expired(label_uploaded_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= tracking_expires_at(label_uploaded_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use proptest::prelude::*;

    #[test]
    fn a_last_weekday_rule_finds_that_weekday_for_any_weekday_and_month() {
        let last = |month, weekday| HolidayRule::Last { month, weekday }.nominal_date(2026);
        // Memorial Day, the rule the calendar uses, is a Monday; the others pin the
        // arithmetic for every weekday distance from the month's last day.
        assert_eq!(last(5, Weekday::Mon), NaiveDate::from_ymd_opt(2026, 5, 25));
        assert_eq!(
            last(11, Weekday::Fri),
            NaiveDate::from_ymd_opt(2026, 11, 27)
        );
        assert_eq!(
            last(12, Weekday::Sun),
            NaiveDate::from_ymd_opt(2026, 12, 27)
        );
        assert_eq!(
            last(12, Weekday::Thu),
            NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        assert_eq!(last(2, Weekday::Sat), NaiveDate::from_ymd_opt(2026, 2, 28));
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, 0)
            .single()
            .expect("valid test instant")
    }

    /// A Chicago wall time that exists exactly once, as UTC.
    fn ct(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        BUSINESS_TZ
            .with_ymd_and_hms(y, m, d, h, mi, 0)
            .single()
            .expect("unambiguous Chicago test time")
            .with_timezone(&Utc)
    }

    fn one_ns() -> TimeDelta {
        TimeDelta::nanoseconds(1)
    }

    // --- Chicago wall-clock helpers -------------------------------------------------

    #[test]
    fn chicago_date_uses_local_date_not_utc_date() {
        // 03:00Z on the 10th is still the evening of the 9th in Chicago.
        assert_eq!(chicago_date(utc(2026, 1, 10, 3, 0)), date(2026, 1, 9));
        assert_eq!(chicago_date(utc(2026, 1, 10, 6, 0)), date(2026, 1, 10));
    }

    #[test]
    fn chicago_time_at_applies_standard_and_daylight_offsets() {
        assert_eq!(
            chicago_time_at(date(2026, 1, 15), 6, 0),
            utc(2026, 1, 15, 12, 0)
        );
        assert_eq!(
            chicago_time_at(date(2026, 7, 15), 6, 0),
            utc(2026, 7, 15, 11, 0)
        );
    }

    #[test]
    fn chicago_time_in_spring_gap_reads_pre_jump_clock() {
        // 02:30 does not exist on 2026-03-08; read with CST it is 08:30Z = 03:30 CDT.
        assert_eq!(
            chicago_time_at(date(2026, 3, 8), 2, 30),
            utc(2026, 3, 8, 8, 30)
        );
    }

    #[test]
    fn chicago_time_in_fall_back_overlap_is_first_occurrence() {
        // 01:30 happens twice on 2026-11-01; the first is CDT (06:30Z).
        assert_eq!(
            chicago_time_at(date(2026, 11, 1), 1, 30),
            utc(2026, 11, 1, 6, 30)
        );
    }

    #[test]
    fn chicago_time_past_midnight_rolls_into_next_day() {
        assert_eq!(
            chicago_time_at(date(2026, 1, 15), 24, 0),
            chicago_time_at(date(2026, 1, 16), 0, 0)
        );
    }

    #[test]
    fn end_of_day_follows_dst_length_of_the_day() {
        assert_eq!(end_of_chicago_day(date(2026, 3, 7)), utc(2026, 3, 8, 6, 0));
        // Spring-forward day is 23 hours long.
        assert_eq!(end_of_chicago_day(date(2026, 3, 8)), utc(2026, 3, 9, 5, 0));
        // Fall-back day is 25 hours long.
        assert_eq!(
            end_of_chicago_day(date(2026, 10, 31)),
            utc(2026, 11, 1, 5, 0)
        );
        assert_eq!(
            end_of_chicago_day(date(2026, 11, 1)),
            utc(2026, 11, 2, 6, 0)
        );
    }

    #[test]
    fn calendar_edges_saturate_instead_of_panicking() {
        assert_eq!(end_of_chicago_day(NaiveDate::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(next_business_day(NaiveDate::MAX), NaiveDate::MAX);
        assert_eq!(add_business_days(NaiveDate::MAX, 3), NaiveDate::MAX);
        assert_eq!(
            tracking_expires_at(DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            completion_time(DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
        let _ = federal_holidays(NaiveDate::MAX.year());
        let _ = federal_holidays(NaiveDate::MIN.year());
    }

    // --- Order completion -----------------------------------------------------------

    #[test]
    fn upload_just_before_midnight_ct_completes_next_morning() {
        // Tuesday 2026-01-13 23:50 CT -> Wednesday 06:00 CST.
        assert_eq!(
            completion_time(ct(2026, 1, 13, 23, 50)),
            utc(2026, 1, 14, 12, 0)
        );
    }

    #[test]
    fn upload_just_after_midnight_ct_completes_the_day_after() {
        // Wednesday 2026-01-14 00:30 CT -> Thursday 06:00 CST.
        assert_eq!(
            completion_time(ct(2026, 1, 14, 0, 30)),
            utc(2026, 1, 15, 12, 0)
        );
    }

    #[test]
    fn upload_late_evening_ct_uses_chicago_date_even_when_utc_date_has_changed() {
        // 22:00 CT is 04:00Z the next UTC day; still completes the next Chicago morning.
        let upload = ct(2026, 1, 13, 22, 0);
        assert_eq!(upload, utc(2026, 1, 14, 4, 0));
        assert_eq!(completion_time(upload), utc(2026, 1, 14, 12, 0));
    }

    #[test]
    fn spring_forward_day_upload_completes_at_six_local() {
        // Uploaded on 2026-03-08 (spring forward); completes 03-09 06:00 CDT = 11:00Z.
        assert_eq!(
            completion_time(ct(2026, 3, 8, 12, 0)),
            utc(2026, 3, 9, 11, 0)
        );
    }

    #[test]
    fn upload_the_day_before_spring_forward_completes_at_six_cdt_on_the_change_day() {
        // The night loses an hour, but completion is still 06:00 local (now CDT).
        assert_eq!(
            completion_time(ct(2026, 3, 7, 0, 1)),
            utc(2026, 3, 8, 11, 0)
        );
        assert_eq!(
            completion_time(ct(2026, 3, 7, 23, 59)),
            utc(2026, 3, 8, 11, 0)
        );
    }

    #[test]
    fn uploads_at_both_ends_of_spring_forward_day_complete_the_next_morning_cdt() {
        assert_eq!(
            completion_time(ct(2026, 3, 8, 0, 1)),
            utc(2026, 3, 9, 11, 0)
        );
        assert_eq!(
            completion_time(ct(2026, 3, 8, 23, 59)),
            utc(2026, 3, 9, 11, 0)
        );
    }

    #[test]
    fn fall_back_day_upload_completes_at_six_local() {
        // Uploaded on 2026-11-01 (fall back); completes 11-02 06:00 CST = 12:00Z.
        assert_eq!(
            completion_time(ct(2026, 11, 1, 12, 0)),
            utc(2026, 11, 2, 12, 0)
        );
    }

    #[test]
    fn upload_the_day_before_fall_back_completes_at_six_cst_on_the_change_day() {
        assert_eq!(
            completion_time(ct(2026, 10, 31, 0, 1)),
            utc(2026, 11, 1, 12, 0)
        );
        assert_eq!(
            completion_time(ct(2026, 10, 31, 23, 59)),
            utc(2026, 11, 1, 12, 0)
        );
    }

    #[test]
    fn uploads_at_both_ends_of_fall_back_day_complete_the_next_morning_cst() {
        assert_eq!(
            completion_time(ct(2026, 11, 1, 0, 1)),
            utc(2026, 11, 2, 12, 0)
        );
        assert_eq!(
            completion_time(ct(2026, 11, 1, 23, 59)),
            utc(2026, 11, 2, 12, 0)
        );
    }

    #[test]
    fn upload_in_the_repeated_fall_back_hour_completes_the_next_morning() {
        // Both 01:30s of 2026-11-01 (CDT at 06:30Z, CST at 07:30Z) are that Chicago day.
        assert_eq!(
            completion_time(utc(2026, 11, 1, 6, 30)),
            utc(2026, 11, 2, 12, 0)
        );
        assert_eq!(
            completion_time(utc(2026, 11, 1, 7, 30)),
            utc(2026, 11, 2, 12, 0)
        );
    }

    // --- Federal holidays -----------------------------------------------------------

    #[test]
    fn saturday_holiday_is_observed_friday() {
        // 2026-07-04 is a Saturday.
        assert_eq!(federal_holiday(date(2026, 7, 3)), Some("Independence Day"));
        assert_eq!(federal_holiday(date(2026, 7, 4)), None);
        assert!(!is_business_day(date(2026, 7, 3)));
    }

    #[test]
    fn sunday_holiday_is_observed_monday() {
        // 2027-07-04 is a Sunday.
        assert_eq!(federal_holiday(date(2027, 7, 5)), Some("Independence Day"));
        assert_eq!(federal_holiday(date(2027, 7, 4)), None);
        assert!(!is_business_day(date(2027, 7, 5)));
    }

    #[test]
    fn new_year_on_saturday_is_observed_dec_31_of_previous_year() {
        // 2022-01-01 is a Saturday.
        assert_eq!(federal_holiday(date(2021, 12, 31)), Some("New Year's Day"));
        assert!(!is_business_day(date(2021, 12, 31)));
        assert!(federal_holidays(2021).contains(&(date(2021, 12, 31), "New Year's Day")));
        assert!(federal_holidays(2022)
            .iter()
            .all(|(_, name)| *name != "New Year's Day"));
    }

    #[test]
    fn new_year_on_sunday_is_observed_jan_2() {
        // 2023-01-01 is a Sunday.
        assert_eq!(federal_holiday(date(2023, 1, 2)), Some("New Year's Day"));
        assert_eq!(federal_holiday(date(2022, 12, 31)), None);
    }

    #[test]
    fn juneteenth_is_absent_before_2021() {
        // 2020-06-19 was a Friday, an ordinary business day.
        assert_eq!(federal_holiday(date(2020, 6, 19)), None);
        assert!(is_business_day(date(2020, 6, 19)));
        assert!(federal_holidays(2020)
            .iter()
            .all(|(_, name)| !name.starts_with("Juneteenth")));
    }

    #[test]
    fn juneteenth_applies_from_2021_with_weekend_observance() {
        // 2021-06-19 was a Saturday: observed Friday the 18th.
        assert_eq!(
            federal_holiday(date(2021, 6, 18)),
            Some("Juneteenth National Independence Day")
        );
    }

    #[test]
    fn observed_holidays_of_2026_and_2027_match_the_statute() {
        // Weekdays checked by hand: 2026-01-01 is a Thursday, 2027-01-01 a Friday,
        // 2028-01-01 a Saturday (hence 2027-12-31).
        type MonthDayName = (u32, u32, &'static str);
        let cases: [(i32, &[MonthDayName]); 2] = [
            (
                2026,
                &[
                    (1, 1, "New Year's Day"),
                    (1, 19, "Birthday of Martin Luther King, Jr."),
                    (2, 16, "Washington's Birthday"),
                    (5, 25, "Memorial Day"),
                    (6, 19, "Juneteenth National Independence Day"),
                    (7, 3, "Independence Day"),
                    (9, 7, "Labor Day"),
                    (10, 12, "Columbus Day"),
                    (11, 11, "Veterans Day"),
                    (11, 26, "Thanksgiving Day"),
                    (12, 25, "Christmas Day"),
                ],
            ),
            (
                2027,
                &[
                    (1, 1, "New Year's Day"),
                    (1, 18, "Birthday of Martin Luther King, Jr."),
                    (2, 15, "Washington's Birthday"),
                    (5, 31, "Memorial Day"),
                    (6, 18, "Juneteenth National Independence Day"),
                    (7, 5, "Independence Day"),
                    (9, 6, "Labor Day"),
                    (10, 11, "Columbus Day"),
                    (11, 11, "Veterans Day"),
                    (11, 25, "Thanksgiving Day"),
                    (12, 24, "Christmas Day"),
                    (12, 31, "New Year's Day"),
                ],
            ),
        ];
        for (year, expected) in cases {
            let expected: Vec<_> = expected
                .iter()
                .map(|&(m, d, name)| (date(year, m, d), name))
                .collect();
            assert_eq!(federal_holidays(year), expected, "holidays of {year}");
            for &(day, name) in &expected {
                assert_eq!(federal_holiday(day), Some(name), "{day}");
                assert!(!is_business_day(day), "{day}");
            }
        }
    }

    #[test]
    fn weekends_are_not_business_days_and_plain_weekdays_are() {
        assert!(!is_business_day(date(2026, 1, 10))); // Saturday
        assert!(!is_business_day(date(2026, 1, 11))); // Sunday
        assert!(is_business_day(date(2026, 1, 12))); // Monday
        assert!(is_business_day(date(2026, 1, 16))); // Friday
    }

    #[test]
    fn add_zero_business_days_returns_the_start_even_on_a_weekend() {
        assert_eq!(add_business_days(date(2026, 1, 10), 0), date(2026, 1, 10));
    }

    #[test]
    fn business_days_skip_thanksgiving_but_not_the_friday_after() {
        // Wed 2026-11-25 -> Fri 11-27 (Thanksgiving Thursday skipped).
        assert_eq!(next_business_day(date(2026, 11, 25)), date(2026, 11, 27));
    }

    // --- First carrier scan ---------------------------------------------------------

    #[test]
    fn friday_label_expects_first_scan_monday() {
        // Friday 2026-01-09 -> by the end of Monday 01-12, i.e. Tue 00:00 CST.
        assert_eq!(
            first_scan_due(ct(2026, 1, 9, 15, 0)),
            utc(2026, 1, 13, 6, 0)
        );
    }

    #[test]
    fn friday_late_evening_label_is_still_a_friday_label() {
        // 23:30 CT Friday is Saturday in UTC; the Chicago date decides.
        assert_eq!(
            first_scan_due(ct(2026, 1, 9, 23, 30)),
            utc(2026, 1, 13, 6, 0)
        );
    }

    #[test]
    fn label_before_monday_holiday_expects_first_scan_tuesday() {
        // Friday 2026-01-16, MLK Day Monday 01-19 -> end of Tuesday 01-20.
        assert_eq!(
            first_scan_due(ct(2026, 1, 16, 10, 0)),
            utc(2026, 1, 21, 6, 0)
        );
    }

    #[test]
    fn saturday_label_expects_first_scan_monday() {
        assert_eq!(
            first_scan_due(ct(2026, 1, 10, 9, 0)),
            utc(2026, 1, 13, 6, 0)
        );
    }

    #[test]
    fn midweek_label_expects_first_scan_the_next_day() {
        assert_eq!(
            first_scan_due(ct(2026, 1, 13, 9, 0)),
            utc(2026, 1, 15, 6, 0)
        );
    }

    #[test]
    fn first_scan_at_the_due_instant_is_late_and_one_instant_before_is_not() {
        let label = ct(2026, 1, 9, 15, 0);
        let due = first_scan_due(label);
        assert!(!is_first_scan_late(label, due - one_ns()));
        assert!(is_first_scan_late(label, due));
    }

    // --- Stalled shipments ----------------------------------------------------------

    #[test]
    fn domestic_shipment_stalls_after_five_business_days_across_a_weekend() {
        // Last update Fri 2026-01-09: Mon 12 .. Fri 16 -> end of Fri 16 = Sat 06:00Z.
        let last = ct(2026, 1, 9, 14, 0);
        let deadline = utc(2026, 1, 17, 6, 0);
        assert_eq!(stall_deadline(last, 5), deadline);
        assert!(!is_stalled(last, deadline - one_ns(), 5));
        assert!(is_stalled(last, deadline, 5));
    }

    #[test]
    fn domestic_shipment_stalls_after_five_business_days_across_a_holiday() {
        // Last update Wed 2026-01-14: Thu 15, Fri 16, (MLK Mon 19), Tue 20, Wed 21,
        // Thu 22 -> end of Thu 22.
        let last = ct(2026, 1, 14, 8, 0);
        let deadline = utc(2026, 1, 23, 6, 0);
        assert_eq!(stall_deadline(last, 5), deadline);
        assert!(!is_stalled(last, deadline - one_ns(), 5));
        assert!(is_stalled(last, deadline, 5));
    }

    #[test]
    fn international_shipment_stalls_after_ten_business_days_across_weekends_and_a_holiday() {
        // Wed 2026-01-14: 15, 16, (19 MLK), 20, 21, 22, 23, 26, 27, 28, 29 -> end of Thu 29.
        let last = ct(2026, 1, 14, 8, 0);
        let deadline = utc(2026, 1, 30, 6, 0);
        assert_eq!(stall_deadline(last, 10), deadline);
        assert!(!is_stalled(last, deadline - one_ns(), 10));
        assert!(is_stalled(last, deadline, 10));
    }

    #[test]
    fn stall_deadline_crossing_spring_forward_ends_at_chicago_midnight_cdt() {
        // Wed 2026-03-04 + 5 business days -> Wed 03-11; end is Thu 00:00 CDT = 05:00Z.
        assert_eq!(
            stall_deadline(ct(2026, 3, 4, 12, 0), 5),
            utc(2026, 3, 12, 5, 0)
        );
    }

    #[test]
    fn weekend_update_starts_counting_on_monday() {
        // Sat 2026-01-10 + 5 -> Fri 01-16.
        assert_eq!(
            stall_deadline(ct(2026, 1, 10, 12, 0), 5),
            utc(2026, 1, 17, 6, 0)
        );
    }

    // --- Tracking validity ----------------------------------------------------------

    #[test]
    fn tracking_expires_exactly_120_days_after_the_label() {
        let label = utc(2026, 1, 1, 12, 0);
        let expiry = utc(2026, 5, 1, 12, 0);
        assert_eq!(tracking_expires_at(label), expiry);
        assert!(!is_tracking_expired(label, expiry - one_ns()));
        assert!(is_tracking_expired(label, expiry));
    }

    #[test]
    fn tracking_expiry_is_elapsed_time_even_across_dst() {
        // 2026-01-20 09:00 CST + 120 * 24h lands on 2026-05-20 10:00 CDT.
        let label = ct(2026, 1, 20, 9, 0);
        assert_eq!(tracking_expires_at(label), ct(2026, 5, 20, 10, 0));
    }

    // --- Properties -----------------------------------------------------------------

    /// Instants from 2000-01-01 to 2100-01-01, with sub-second noise.
    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        (946_684_800_i64..4_102_444_800_i64, 0_u32..1_000_000_000).prop_map(|(secs, nanos)| {
            DateTime::from_timestamp(secs, nanos).expect("in-range timestamp")
        })
    }

    /// Dates from 1990 to roughly 2099.
    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0_u64..40_000).prop_map(|offset| date(1990, 1, 1) + Days::new(offset))
    }

    proptest! {
        #[test]
        fn completion_is_six_local_on_the_next_chicago_day(upload in any_instant()) {
            let done = completion_time(upload);
            let local = done.with_timezone(&BUSINESS_TZ);
            prop_assert_eq!((local.hour(), local.minute(), local.second(), local.nanosecond()), (6, 0, 0, 0));
            prop_assert_eq!(Some(local.date_naive()), chicago_date(upload).succ_opt());
        }

        #[test]
        fn completion_is_strictly_after_upload_within_dst_adjusted_bounds(upload in any_instant()) {
            let waited = completion_time(upload) - upload;
            // Shortest: 23:59:59.9 the night before spring forward (just over 5h).
            // Longest: 00:00 on fall-back day (31h).
            prop_assert!(waited > TimeDelta::hours(5), "waited {waited}");
            prop_assert!(waited <= TimeDelta::hours(31), "waited {waited}");
        }

        #[test]
        fn add_business_days_lands_on_business_days_and_counts_exactly_n(from in any_date(), n in 0_u32..60) {
            let landed = add_business_days(from, n);
            if n == 0 {
                prop_assert_eq!(landed, from);
            } else {
                prop_assert!(landed > from);
                prop_assert!(!matches!(landed.weekday(), Weekday::Sat | Weekday::Sun));
                prop_assert!(federal_holiday(landed).is_none());
                let counted = from
                    .iter_days()
                    .skip(1)
                    .take_while(|d| *d <= landed)
                    .filter(|d| is_business_day(*d))
                    .count();
                prop_assert_eq!(counted, n as usize);
            }
        }

        #[test]
        fn add_business_days_is_strictly_increasing_in_n(from in any_date(), n in 0_u32..60) {
            prop_assert!(add_business_days(from, n + 1) > add_business_days(from, n));
        }

        #[test]
        fn first_scan_due_is_a_chicago_midnight_after_the_label(label in any_instant()) {
            let due = first_scan_due(label);
            prop_assert!(due > label);
            // Longest wait: Friday 00:00 before a Monday holiday -> Wednesday 00:00.
            prop_assert!(due - label <= TimeDelta::days(5) + TimeDelta::hours(1));
            let local = due.with_timezone(&BUSINESS_TZ);
            prop_assert_eq!((local.hour(), local.minute(), local.second()), (0, 0, 0));
            prop_assert!(!is_first_scan_late(label, label));
        }

        #[test]
        fn stall_deadline_grows_with_business_days(last in any_instant(), n in 0_u32..30) {
            prop_assert!(stall_deadline(last, n) > last);
            prop_assert!(stall_deadline(last, n + 1) > stall_deadline(last, n));
        }
    }

    #[test]
    fn a_federal_holiday_is_named_and_only_on_its_observed_day() {
        assert_eq!(
            federal_holiday(date(2026, 11, 26)),
            Some("Thanksgiving Day")
        );
        assert_eq!(federal_holiday(date(2026, 11, 27)), None);
        assert_eq!(federal_holiday(date(2026, 11, 24)), None);
        assert!(is_business_day(date(2026, 11, 24)), "a plain Tuesday");
        assert!(!is_business_day(date(2026, 11, 26)), "Thanksgiving");
        assert!(!is_business_day(date(2026, 11, 28)), "a Saturday");
        assert!(!is_business_day(date(2026, 11, 29)), "a Sunday");
    }
}

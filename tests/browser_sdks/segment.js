// Segment's browser library as a page gets it: window.AnalyticsBrowser.
import { AnalyticsBrowser } from "@segment/analytics-next";

window.AnalyticsBrowser = AnalyticsBrowser;

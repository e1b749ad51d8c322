"""Gate events (EPCIS 2.0 shaped, signed by the reporting checkpoint), timelines and TRS KPIs."""

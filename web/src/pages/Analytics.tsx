import { Link } from '@tanstack/react-router';
import { PageHeader } from '@/components/common';
import { Card } from '@/components/ui/card';

export function AnalyticsPage() {
  return (
    <>
      <PageHeader title="Analytics" />
      <Card>
        <p className="text-sm text-slate-800">
          Charts of call volume, outcomes and latency are not built yet. Until then, the{' '}
          <Link to="/calls" className="text-indigo-700 underline">
            Calls
          </Link>{' '}
          list filters calls by agent, status, direction and day, and the server exposes Prometheus metrics at{' '}
          <code className="font-mono">/metrics</code>.
        </p>
      </Card>
    </>
  );
}

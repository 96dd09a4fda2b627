import { ChatPanel } from '../components/chat-panel';
import type { CiteTarget } from '../components/citations';

/** Questions across all the user's transcripts, beside search; citations open their recording at the cited time. */
export function ChatAcross() {
  const open = (target: CiteTarget) => {
    if (target.href) location.hash = target.href;
  };
  return <ChatPanel scope="all" onCite={open} />;
}
